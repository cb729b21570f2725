"""The RQ queue and the per-connection coalescing of sync triggers.

At most one sync runs and one waits per connection, however many triggers arrive: a trigger
finds the connection's waiting job (a Redis key) and joins it, or enqueues a new one. The
waiting job keeps that key until it holds the connection's run lock, so triggers that arrive
while it waits for a running sync still join it.
"""

from __future__ import annotations

import uuid

from redis import Redis
from rq import Queue
from sqlalchemy import select

from app.db import Database
from workers.vocabulary import Trigger

QUEUE = "usersync"
"""The one queue the worker listens on (Procfile: `rq worker ... usersync`)."""
WAITING_KEY = "usersync:sync:waiting:{cid}"
"""Id of the job waiting to sync connection `cid` (absent: none waits)."""
LOCK_KEY = "usersync:sync:lock:{cid}"
"""Held by the job syncing connection `cid`; expires unless renewed, so a killed worker frees it."""
PROGRESS_KEY = "usersync:sync:progress:{cid}"
"""Hash {run_id, done, total} of the running sync, for the admin page."""
# How long a killed worker's lock outlives it is USERSYNC_SYNC_LOCK_TTL (settings.sync_lock_ttl).
JOB_TIMEOUT = 6 * 3600


class NotInstalled(Exception):
    """The connection's site does not have the app installed and enabled: nothing to sync to."""


def require_installed(db: Database, connection_id: int) -> None:
    """Raise NotInstalled unless the connection exists and its installation is enabled."""
    from app.models import Connection, Installation, InstallationState

    with db.session() as session:
        state = session.scalar(select(Installation.state)
                               .join(Connection, Connection.installation_id == Installation.id)
                               .where(Connection.id == connection_id))
    if state is None:
        raise NotInstalled(f"connection {connection_id} does not exist")
    if state != InstallationState.ENABLED:
        raise NotInstalled(f"connection {connection_id} belongs to a site where the app is "
                           f"{state.value}; it syncs again once the site installs it again")


def queue(redis: Redis) -> Queue:
    # RQ's default serializer: `rq cron` enqueues with it and offers no other; jobs take ids.
    return Queue(QUEUE, connection=redis)


def enqueue_sync(redis: Redis, connection_id: int, trigger: str = Trigger.MANUAL,
                 dry_run: bool = False, db: Database | None = None) -> str:
    """Enqueue a sync for the connection or join the one already waiting; returns the job id.

    Dry runs (previews) are never merged into a real sync, nor into each other. Callers
    enqueue only runnable connections (`Connection.inactive_reason()`); the queue itself
    refuses a connection whose site is not installed (NotInstalled), since its run could only
    fail and retry against a site that is gone; the job checks again when it starts, since a
    connection or its site can be disabled while the job waits. `db` defaults to the
    process's configured database.
    """
    if db is None:
        from app import extensions

        db = extensions.db
    require_installed(db, connection_id)
    job_id = f"sync-{connection_id}-{uuid.uuid4().hex[:12]}"
    if not dry_run:
        key = WAITING_KEY.format(cid=connection_id)
        if not redis.set(key, job_id, nx=True, ex=JOB_TIMEOUT):
            existing = redis.get(key)
            if existing:
                return existing.decode()
            redis.set(key, job_id, ex=JOB_TIMEOUT)
    queue(redis).enqueue("workers.jobs.sync_connection", connection_id, trigger, dry_run,
                         job_id=job_id, job_timeout=JOB_TIMEOUT, result_ttl=86400,
                         failure_ttl=7 * 86400)
    return job_id


def enqueue_approval(redis: Redis, run_id: int, connection_id: int, approver: str) -> str:
    job_id = f"approve-{run_id}-{uuid.uuid4().hex[:8]}"
    queue(redis).enqueue("workers.jobs.apply_approved", run_id, connection_id, approver,
                         job_id=job_id, job_timeout=JOB_TIMEOUT)
    return job_id
