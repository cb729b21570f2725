"""The scheduled trigger's work: claim this installation's due connections and enqueue them.

Forge warns that a trigger may be delivered twice. Each due connection is claimed with a
compare-and-set on its `next_run_at`, so a duplicate delivery finds nothing left to claim; a
short Redis key per installation answers a duplicate before it reaches the database.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.models import Connection, Installation, InstallationState
from workers.vocabulary import Trigger

log = logging.getLogger(__name__)


def claim_due(session: Session, installation: Installation,
              now: datetime | None = None) -> list[tuple[int, str]]:
    """(connection id, trigger) of the installation's connections that are due, now claimed."""
    from workers.cadence import ScheduleError, next_run  # pure: interval arithmetic only

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
            claimed.append((row.id, Trigger.PUSH if row.pending_changes else Trigger.SCHEDULE))
    return claimed


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


DELIVERY_KEY = "usersync:forge:trigger:{installation}"
"""Held while one scheduled-trigger delivery of an installation runs, and briefly after."""
DELIVERY_TTL = 30
"""Seconds a delivery keeps the key: a duplicate within them is answered at once, without
touching the database (the claim above would find nothing anyway)."""


def first_delivery(redis: Redis | None, installation_id: str) -> bool:
    """True when no other delivery of this installation's trigger is under way or just done.

    Without Redis every delivery goes on: the compare-and-set claim is what keeps duplicates
    from starting anything; this only spares the database the duplicate's work.
    """
    if redis is None:
        return True
    try:
        return bool(redis.set(DELIVERY_KEY.format(installation=installation_id), "1",
                              nx=True, ex=DELIVERY_TTL))
    except RedisError:
        log.warning("Redis unreachable: the trigger delivery goes on without the duplicate check")
        return True


def delivery_failed(redis: Redis | None, installation_id: str) -> None:
    """Let Forge's retry of a failed delivery do the work."""
    if redis is None:
        return
    try:
        redis.delete(DELIVERY_KEY.format(installation=installation_id))
    except RedisError:
        log.warning("Redis unreachable: a retried delivery may be skipped for %s s", DELIVERY_TTL)
