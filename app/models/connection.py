"""An IdP connection of an installation: its kind, settings (secrets encrypted), mapping and policy."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.models.columns import key, moment, stamped, utcnow
from app.models.installation import Installation, InstallationState

if TYPE_CHECKING:
    from app.models.sync import GroupMapping


class Connection(Base):
    """One IdP source feeding one Atlassian site.

    `settings` holds the non-secret settings; the secret ones (client secrets, tokens,
    passwords, keys) live only in `secrets_encrypted`, a key-ring-encrypted JSON object.
    """

    __tablename__ = "connection"

    id: Mapped[int] = key()
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installation.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    # Sync behaviour (see workers/sync/policy.py for the meaning of each key).
    mapping_mode: Mapped[str] = mapped_column(String(16), default="on_the_fly")
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    deprovision: Mapped[str] = mapped_column(String(32), default="remove_from_groups")
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # NULL means manual (on demand only; see workers/cadence.py). No column default: the ORM
    # applies a default in place of an explicit None on insert, which made manual hourly.
    schedule: Mapped[str | None] = mapped_column(String(64))
    next_run_at: Mapped[datetime | None] = moment(index=True)
    last_run_at: Mapped[datetime | None] = moment()
    # Atlassian's hourly points quota ran out: the tick resumes the sync once it resets
    deferred_until: Mapped[datetime | None] = moment()
    pending_changes: Mapped[bool] = mapped_column(Boolean, default=False)
    # The drift reconcile: a full read of the managed groups every this many hours (and on
    # demand, and after a run that failed or was interrupted); NULL reconciled_at means due.
    reconcile_interval_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    reconciled_at: Mapped[datetime | None] = moment()
    # When the members of the site's admin-named groups were last read (at a reconcile, into
    # admin_member); NULL: never, so membership removals ask the permission check per account.
    admin_members_read_at: Mapped[datetime | None] = moment()
    # Deleted by the admin with its history kept: hidden and never synced, runs still readable.
    deleted_at: Mapped[datetime | None] = moment()
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped(onupdate=utcnow)

    installation: Mapped[Installation] = relationship()
    group_mappings: Mapped[list[GroupMapping]] = relationship(
        order_by="GroupMapping.position", cascade="all, delete-orphan")

    def inactive_reason(self) -> str | None:
        """Why nothing may run for this connection now (disabled, site not enabled), or None."""
        return inactive_reason(self.id, self.enabled,
                               self.installation.state if self.installation is not None else None)

    def mapping_config(self) -> dict[str, Any]:
        """The mapping settings with the manual rules from their table, as the policy reads them."""
        return {**(self.mapping or {}),
                "rules": [{"idp_group": m.idp_group, "groups": list(m.atlassian_groups)}
                          for m in self.group_mappings]}

    def set_secrets(self, values: dict[str, Any], encrypt) -> None:  # type: ignore[no-untyped-def]
        """Store secret settings encrypted with `encrypt` (the key ring's encrypt)."""
        self.secrets_encrypted = encrypt(json.dumps(values)) if values else None

    def get_secrets(self, decrypt) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return json.loads(decrypt(self.secrets_encrypted)) if self.secrets_encrypted else {}


def inactive_reason(connection_id: int, enabled: bool, state: InstallationState | None) -> str | None:
    """Pure: why a connection with these columns may not run now, or None (it may)."""
    if not enabled:
        return f"connection {connection_id} is disabled"
    if state != InstallationState.ENABLED:
        shown = state.value if state is not None else "missing"
        return f"the app is not enabled on this connection's site (it is {shown})"
    return None
