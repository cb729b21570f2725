"""A write credential a site admin handed the app (OAuth grant, API token or org API key), encrypted."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import enum_type, key, stamped, utcnow


class CredentialKind(enum.StrEnum):
    OAUTH = "oauth"
    API_TOKEN = "api_token"
    ORG_API_KEY = "org_api_key"


class CredentialStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"  # the remote refused it for good; the admin must reconnect


class AtlassianCredential(Base):
    """One credential per (installation, kind).

    Everything secret or identifying (access and refresh tokens, expiry, cloud id, scopes,
    e-mail of the API-token account, org id, the key itself) lives in `material_encrypted`,
    a key-ring-encrypted JSON object. `version` grows by one on every change, so a writer
    can compare-and-swap: a rotated refresh token is only stored over the version it was
    derived from.
    """

    __tablename__ = "atlassian_credential"
    __table_args__ = (UniqueConstraint("installation_id", "kind",
                                       name="uq_atlassian_credential_installation_id"),)

    id: Mapped[int] = key()
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installation.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CredentialKind] = mapped_column(enum_type(CredentialKind, "credential_kind"))
    material_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[CredentialStatus] = mapped_column(
        enum_type(CredentialStatus, "credential_status"), default=CredentialStatus.ACTIVE)
    last_error: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped(onupdate=utcnow)

    def material(self, decrypt: Callable[[str], str]) -> dict[str, Any]:
        """The decrypted material (see `seal` for its keys)."""
        return json.loads(decrypt(self.material_encrypted))

    @staticmethod
    def seal(values: dict[str, Any], encrypt: Callable[[str], str]) -> str:
        """Encrypt material: access_token, refresh_token, expires_at (epoch s), cloud_id,
        scopes, email, api_token, org_id, api_key, as the kind needs."""
        return encrypt(json.dumps(values, sort_keys=True))
