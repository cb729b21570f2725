"""The scheduled trigger's work: claim this installation's due connections and enqueue them.

Forge warns that a trigger may be delivered twice. Each due connection is claimed with a
compare-and-set on its `next_run_at`, so a duplicate delivery finds nothing left to claim.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.models import Connection, Installation, InstallationState

log = logging.getLogger(__name__)


def claim_due(session: Session, installation: Installation,
              now: datetime | None = None) -> list[tuple[int, str]]:
    """(connection id, trigger) of the installation's connections that are due, now claimed."""
    from workers.schedule import ScheduleError, next_run  # pure: interval arithmetic only

    if installation.state != InstallationState.ENABLED:
        return []
    now = now or datetime.now(UTC)
    rows = session.execute(
        select(Connection.id, Connection.schedule, Connection.next_run_at,
               Connection.pending_changes)
        .where(Connection.installation_id == installation.id, Connection.enabled.is_(True))
        .where(or_(Connection.pending_changes.is_(True),
                   Connection.schedule.is_not(None) & (
                       Connection.next_run_at.is_(None) | (Connection.next_run_at <= now))))
        .order_by(Connection.id)).all()
    claimed = []
    for row in rows:
        scheduled = row.schedule is not None and (row.next_run_at is None
                                                  or _aware(row.next_run_at) <= now)
        if not scheduled:
            # only pushes wait: the connection's waiting job absorbs a second delivery
            claimed.append((row.id, "push"))
            continue
        try:
            upcoming = next_run(row.schedule, now)
        except ScheduleError:
            log.warning("connection %s has an invalid schedule %r; runs only on demand",
                        row.id, row.schedule)
            continue
        # compare-and-set: the value read above must still be there, else another delivery won
        moved = session.execute(
            update(Connection)
            .where(Connection.id == row.id,
                   Connection.next_run_at.is_(None) if row.next_run_at is None
                   else Connection.next_run_at == row.next_run_at)
            .values(next_run_at=upcoming))
        if moved.rowcount == 1:
            claimed.append((row.id, "push" if row.pending_changes else "schedule"))
    return claimed


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
