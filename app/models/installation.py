"""An Atlassian site (Jira or Confluence) that installed the app, with its encrypted shared secret."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import enum_type, key, moment, stamped, utcnow


def _initial_base_url(context) -> str | None:  # type: ignore[no-untyped-def]
    """A new installation's baseUrl is the one it was created with: confirmed."""
    return context.get_current_parameters().get("base_url")


class InstallationState(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    UNINSTALLED = "uninstalled"


class InstallationKind(enum.StrEnum):
    """Which front door installed the app: the Connect descriptor or the Forge manifest."""

    CONNECT = "connect"
    FORGE = "forge"


class Installation(Base):
    """One tenant. `client_key` is Atlassian's id of the site+app pair (the JWT `iss`); a site
    installed through Forge alone has its Forge installation id there."""

    __tablename__ = "installation"

    id: Mapped[int] = key()
    client_key: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    product_type: Mapped[str] = mapped_column(String(32))
    base_url: Mapped[str] = mapped_column(String(255))
    display_url: Mapped[str | None] = mapped_column(String(255))
    # None for a site that came in through Forge only (it never had a Connect shared secret)
    shared_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    state: Mapped[InstallationState] = mapped_column(
        enum_type(InstallationState, "installation_state"), default=InstallationState.ENABLED)
    description: Mapped[str | None] = mapped_column(String(255))
    installed_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped(onupdate=utcnow)
    uninstalled_at: Mapped[datetime | None] = moment()
    # `iat` of the signed install this row holds: an older install or uninstall token is stale.
    install_iat: Mapped[int | None] = mapped_column(Integer)
    # The baseUrl an admin (or the first install) vouched for. A reinstall may move `base_url`
    # (a site rename does); until an admin confirms, write credentials are not sent there.
    confirmed_base_url: Mapped[str | None] = mapped_column(String(255), default=_initial_base_url)
    # -- Forge (app/forge): set by the Forge lifecycle and every verified invocation --------
    kind: Mapped[InstallationKind] = mapped_column(
        enum_type(InstallationKind, "installation_kind"), default=InstallationKind.CONNECT, server_default=InstallationKind.CONNECT.value)
    forge_installation_id: Mapped[str | None] = mapped_column(String(255), unique=True, index=True)
    cloud_id: Mapped[str | None] = mapped_column(String(64), index=True)
    api_base_url: Mapped[str | None] = mapped_column(String(255))
    forge_environment: Mapped[str | None] = mapped_column(String(32))
    system_token_encrypted: Mapped[str | None] = mapped_column(Text)
    system_token_expires_at: Mapped[datetime | None] = moment()
    adopted_at: Mapped[datetime | None] = moment()

    @property
    def active(self) -> bool:
        return self.state == InstallationState.ENABLED

    @property
    def base_url_confirmed(self) -> bool:
        return self.confirmed_base_url is not None and self.confirmed_base_url == self.base_url
