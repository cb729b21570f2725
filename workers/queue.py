"""The RQ queues and the per-connection coalescing of sync triggers.

At most one sync runs and one waits per connection, however many triggers arrive: a trigger
finds the connection's waiting job (a Redis key) and joins it, or enqueues a new one. The
waiting job keeps that key until it holds the connection's run lock, so triggers that arrive
while it waits for a running sync still join it. The key is per connection, not per queue, so
a waiting job is never duplicated on another queue: a trigger that deserves a faster queue
than the waiting job's moves that job there instead (workers/routing.py chooses the queue).
"""

from __future__ import annotations

import uuid

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select

from app.db import Database
from workers import routing
from workers.routing import BULK, INTERACTIVE, ORDINARY, QUEUES, UNHURRIED
from workers.vocabulary import Trigger

__all__ = ["BULK", "INTERACTIVE", "ORDINARY", "QUEUES", "UNHURRIED"]  # for the queue's callers

QUEUE = ORDINARY
"""The ordinary queue's name (before the split the only one); new code names the queue."""
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


def queue(redis: Redis, name: str = ORDINARY) -> Queue:
    """One of the sync queues (QUEUES); without a name the ordinary one."""
    # RQ's default serializer: `rq cron` enqueues with it and offers no other; jobs take ids.
    return Queue(name, connection=redis)


def queues(redis: Redis) -> list[Queue]:
    """Every sync queue, in the order a worker takes from them."""
    return [queue(redis, name) for name in QUEUES]


def queued(redis: Redis) -> int:
    """Jobs waiting on any of the sync queues."""
    return sum(len(q) for q in queues(redis))


def queued_jobs(redis: Redis) -> list[Job]:
    """The jobs waiting on the sync queues, fastest queue first."""
    return [job for q in queues(redis) for job in q.get_jobs()]


def empty(redis: Redis) -> None:
    """Drop every job waiting on the sync queues (tests, and a sandbox run starting over)."""
    for q in queues(redis):
        q.empty()


def fetch_job(redis: Redis, job_id: str) -> Job | None:
    """A job by id, on whichever queue it was enqueued (Queue.fetch_job only sees its own)."""
    try:
        return Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None


# Move a queued job to a faster queue, atomically: once LREM took it off its queue no worker
# can dequeue it, and it lands on the other in the same step, so it is never lost nor doubled.
_PROMOTE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], 'origin', ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[4], KEYS[2])
return 1
"""


def promote(redis: Redis, job_id: str, to: str) -> bool:
    """Move the still-queued job `job_id` to queue `to` when that one is taken from first.

    False when the job is already on that queue or a faster one, or has left its queue (a
    worker took it: it runs as soon as the connection's run lock is free)."""
    job = fetch_job(redis, job_id)
    if job is None or job.origin not in QUEUES or QUEUES.index(to) >= QUEUES.index(job.origin):
        return False
    source, target = queue(redis, job.origin), queue(redis, to)
    return bool(redis.eval(_PROMOTE, 4, source.key, target.key, job.key,
                           Queue.redis_queues_keys, job_id, to))


def enqueue_sync(redis: Redis, connection_id: int, trigger: str = Trigger.MANUAL,
                 dry_run: bool = False, db: Database | None = None,
                 history: routing.RunHistory | None = None, targeted: bool = False) -> str:
    """Enqueue a sync for the connection or join the one already waiting; returns the job id.

    Dry runs (previews) are never merged into a real sync, nor into each other. Callers
    enqueue only runnable connections (`Connection.inactive_reason()`); the queue itself
    refuses a connection whose site is not installed (NotInstalled), since its run could only
    fail and retry against a site that is gone; the job checks again when it starts, since a
    connection or its site can be disabled while the job waits. `db` defaults to the
    process's configured database. The queue is chosen by `routing.select_queue` from
    `history` (read from the database when not given) and `targeted` (the caller knows the run
    will be scoped to the users or groups an event named).
    """
    if db is None:
        from app import extensions

        db = extensions.db
    require_installed(db, connection_id)
    name = routing.select_queue(trigger, history or routing.run_history(db, connection_id),
                                targeted=targeted)
    job_id = f"sync-{connection_id}-{uuid.uuid4().hex[:12]}"
    if not dry_run:
        key = WAITING_KEY.format(cid=connection_id)
        # Claim the waiting slot or join its holder. When the holder starts between our SET
        # and GET, claim again with NX: a plain SET could overwrite a third caller's claim and
        # leave two jobs waiting.
        while not redis.set(key, job_id, nx=True, ex=JOB_TIMEOUT):
            existing = redis.get(key)
            if existing:
                promote(redis, existing.decode(), name)
                return existing.decode()
    queue(redis, name).enqueue("workers.jobs.sync_connection", connection_id, trigger, dry_run,
                               job_id=job_id, job_timeout=JOB_TIMEOUT, result_ttl=86400,
                               failure_ttl=7 * 86400)
    return job_id


def enqueue_approval(redis: Redis, run_id: int, connection_id: int, approver: str,
                     db: Database | None = None) -> str:
    """Apply an approved held plan: interactive unless the plan itself is bulk-sized."""
    if db is None:
        from app import extensions

        db = extensions.db
    job_id = f"approve-{run_id}-{uuid.uuid4().hex[:8]}"
    name = routing.select_approval_queue(routing.planned_ops(db, run_id))
    queue(redis, name).enqueue("workers.jobs.apply_approved", run_id, connection_id, approver,
                               job_id=job_id, job_timeout=JOB_TIMEOUT)
    return job_id
