"""Sync schedules: the intervals Forge offers or a cron expression, and the minute tick."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, croniter
from redis import Redis
from sqlalchemy import func, or_, select

from app.db import Database
from app.models import Connection, Installation, InstallationState, SyncRun
from workers.queue import NotInstalled, enqueue_sync
from workers.sync import reconcile

log = logging.getLogger(__name__)

INTERVALS = {
    "five_minutes": timedelta(minutes=5),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
"""Named intervals (Forge's scheduledTrigger offers fiveMinute, hour, day, week)."""
ALIASES = {"fiveMinute": "five_minutes", "5m": "five_minutes", "hourly": "hour",
           "daily": "day", "weekly": "week"}
MANUAL = ("", "manual", "none")
"""Spellings of 'on demand only', stored as NULL: the tick never enqueues such a connection."""


class ScheduleError(ValueError):
    """Not a known interval nor a valid five-field cron expression."""


def normalise(schedule: str | None) -> str | None:
    """The stored form of a schedule, or None for 'manual only'; ScheduleError when invalid."""
    if schedule is not None and not isinstance(schedule, str):
        raise ScheduleError(f"a schedule is text (an interval or a cron expression), not "
                            f"{type(schedule).__name__}")
    value = (schedule or "").strip()
    if value in MANUAL:
        return None
    value = ALIASES.get(value, value)
    if value in INTERVALS:
        return value
    if len(value.split()) == 5 and croniter.is_valid(value) and _ever_due(value):
        return value
    raise ScheduleError(f"{schedule!r} is neither one of {', '.join(INTERVALS)} "
                        "nor a five-field cron expression")


def _ever_due(expression: str) -> bool:
    # croniter accepts dates that never come (30 February); such a schedule would never run
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterBadDateError, ValueError):
        return False
    return True


def next_run(schedule: str | None, after: datetime) -> datetime | None:
    """When a connection on `schedule` is next due, strictly after `after` (UTC)."""
    value = normalise(schedule)
    if value is None:
        return None
    if value in INTERVALS:
        return after + INTERVALS[value]
    return croniter(value, after.astimezone(UTC)).get_next(datetime).astimezone(UTC)


def due_connections(db: Database, now: datetime) -> list[tuple[int, str | None, bool]]:
    """(id, schedule, pending) of enabled connections of enabled sites that are due or have pushes."""
    with db.session() as session:
        rows = session.execute(
            select(Connection.id, Connection.schedule, Connection.pending_changes)
            .join(Installation, Installation.id == Connection.installation_id)
            .where(Connection.enabled.is_(True), Installation.state == InstallationState.ENABLED)
            # a connection waiting for Atlassian's quota to reset is due exactly then
            .where(Connection.deferred_until.is_(None) | (Connection.deferred_until <= now))
            .where(or_(Connection.pending_changes.is_(True),
                       Connection.deferred_until.is_not(None),
                       Connection.schedule.is_not(None) & (
                           Connection.next_run_at.is_(None) | (Connection.next_run_at <= now)))))
        return [(r.id, r.schedule, r.pending_changes) for r in rows]


def reconcile_due(db: Database, now: datetime) -> list[int]:
    """Enabled connections of enabled sites whose drift reconcile is due and not yet tried:
    no run started since it fell due (a run that could not reconcile, say the IdP was down,
    is not retried every minute; the next scheduled or manual run reconciles)."""
    with db.session() as session:
        rows = session.execute(
            select(Connection.id, Connection.reconciled_at, Connection.reconcile_interval_hours,
                   func.max(SyncRun.started_at))
            .join(Installation, Installation.id == Connection.installation_id)
            .outerjoin(SyncRun, SyncRun.connection_id == Connection.id)
            .where(Connection.enabled.is_(True), Installation.state == InstallationState.ENABLED,
                   Connection.deleted_at.is_(None), Connection.reconciled_at.is_not(None),
                   Connection.deferred_until.is_(None))
            .group_by(Connection.id, Connection.reconciled_at,
                      Connection.reconcile_interval_hours)).all()
    due = []
    for cid, reconciled_at, hours, last_started in rows:
        if not reconcile.is_due(reconciled_at, hours, now):
            continue
        fell_due = _aware(reconciled_at) + timedelta(hours=max(1, hours or 24))
        if last_started is None or _aware(last_started) < fell_due:
            due.append(cid)
    return due


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def tick(db: Database, redis: Redis, now: datetime | None = None) -> int:
    """Enqueue the due connections and move their next run on; returns how many were enqueued.
    A connection whose drift reconcile is due gets a `reconcile` run even if it syncs only
    on demand."""
    now = now or datetime.now(UTC)
    count = 0
    scheduled = due_connections(db, now)
    ids = {cid for cid, _, _ in scheduled}
    for cid in reconcile_due(db, now):
        if cid in ids:
            continue  # its scheduled run reconciles: the engine sees the reconcile is due
        try:
            enqueue_sync(redis, cid, reconcile.RECONCILE, db=db)
            count += 1
        except NotInstalled as exc:
            log.info("%s", exc)
    for cid, schedule, pending in scheduled:
        try:
            enqueue_sync(redis, cid, "push" if pending else "schedule", db=db)
        except NotInstalled as exc:  # uninstalled since the query above: nothing to sync to
            log.info("%s", exc)
            continue
        try:
            upcoming = next_run(schedule, now)
        except ScheduleError:
            log.warning("connection %s has an invalid schedule %r; runs only on demand", cid, schedule)
            upcoming = None
        with db.session() as session:
            conn = session.get(Connection, cid)
            conn.deferred_until = None
            if schedule and upcoming:
                conn.next_run_at = upcoming
        count += 1
    return count
