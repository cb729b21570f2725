"""The tick (every 20 s): enqueue every connection whose schedule (see workers.cadence) is due."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import func, or_, select

from app.db import Database
from app.models import Connection, Installation, InstallationState, SyncRun
from workers.cadence import ScheduleError, next_run
from workers.queue import NotInstalled, enqueue_sync
from workers.routing import run_histories
from workers.runlock import compare_and_delete
from workers.sync import reconcile
from workers.vocabulary import Trigger

log = logging.getLogger(__name__)

TICK_KEY = "usersync:schedule:tick"
"""Held while a tick runs (by any worker); it expires, so a killed tick frees it."""
TICK_TTL = 300


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

    One tick at a time across every worker: `rq cron` enqueues one every 20 s, and when a tick
    of many due connections outlasts that, the next would otherwise take a second worker to
    repeat the same work row by row against the first (found by bench/tenants.py). A
    connection whose drift reconcile is due gets a `reconcile` run even if it syncs only on
    demand."""
    token = uuid.uuid4().hex
    if not redis.set(TICK_KEY, token, nx=True, ex=TICK_TTL):
        log.info("a schedule tick is still running; this one has nothing to add")
        return 0
    try:
        return _tick(db, redis, now or datetime.now(UTC))
    finally:
        compare_and_delete(redis, TICK_KEY, token)


def _tick(db: Database, redis: Redis, now: datetime) -> int:
    count = 0
    scheduled = due_connections(db, now)
    ids = {cid for cid, _, _ in scheduled}
    for cid in reconcile_due(db, now):
        if cid in ids:
            continue  # its scheduled run reconciles: the engine sees the reconcile is due
        try:
            enqueue_sync(redis, cid, Trigger.RECONCILE, db=db)
            count += 1
        except NotInstalled as exc:
            log.info("%s", exc)
    # the queue of each comes from its earlier runs: read for all of them at once
    histories = run_histories(db, list(ids))
    for cid, schedule, pending in scheduled:
        try:
            enqueue_sync(redis, cid, Trigger.PUSH if pending else Trigger.SCHEDULE, db=db,
                         history=histories[cid])
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
