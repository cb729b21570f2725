"""Tenant data retention: an uninstalled site's data is deleted once the retention period ends."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import Installation, InstallationState, UsedLifecycleToken

log = logging.getLogger(__name__)


def purge_uninstalled(session: Session, retention_days: int, now: datetime | None = None) -> list[str]:
    """Delete every installation uninstalled more than `retention_days` ago; returns their
    client keys. Connections, runs, changes, links, mirrors and SCIM data go with them (the
    foreign keys cascade). Expired used-token hashes are dropped on the way."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    doomed = list(session.execute(select(Installation.id, Installation.client_key).where(
        Installation.state == InstallationState.UNINSTALLED,
        Installation.uninstalled_at.is_not(None), Installation.uninstalled_at < cutoff)))
    if doomed:
        session.execute(delete(Installation).where(Installation.id.in_([row.id for row in doomed]))
                        .execution_options(synchronize_session=False))
    session.execute(delete(UsedLifecycleToken).where(UsedLifecycleToken.expires_at < now)
                    .execution_options(synchronize_session=False))
    for row in doomed:
        log.info("purged installation %s (uninstalled over %s days ago)", row.client_key, retention_days)
    return [row.client_key for row in doomed]
