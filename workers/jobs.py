"""RQ entry points. They take ids, never objects, and set themselves up once (workers.context)."""

from __future__ import annotations

import logging
from typing import Any

from rq import get_current_job

from app import extensions, logs
from workers import context, events, runlock
from workers.queue import JOB_TIMEOUT, LOCK_KEY, PROGRESS_KEY, WAITING_KEY
from workers.sync import engine
from workers.sync.scope import Scope, ScopeError
from workers.vocabulary import RunStatus, Trigger

log = logging.getLogger(__name__)


def _progress(redis, connection_id: int, run_id: int):  # type: ignore[no-untyped-def]
    from app.models import SyncRun

    key = PROGRESS_KEY.format(cid=connection_id)

    def publish(done: int, total: int) -> None:
        try:
            redis.hset(key, mapping={"run_id": run_id, "done": done, "total": total})
            redis.expire(key, 3600)
        except Exception:  # progress is a nicety; the run must not fail for it
            log.debug("progress not published", exc_info=True)
        with extensions.db.session() as session:
            session.get(SyncRun, run_id).ops_done = done

    return publish


def sync_connection(connection_id: int, trigger: str = Trigger.MANUAL, dry_run: bool = False,
                    scope: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one sync of `connection_id`, after any sync of it already running.

    `scope` ({"users": [...], "groups": [...]}, IdP ids) makes it a targeted run of those
    users and groups; a source that cannot read them one by one runs in full instead. A
    webhook run without one takes what webhooks named since the last run (workers.events)."""
    lock_ttl = context.settings()["SYNC_LOCK_TTL"]
    redis = context.redis()
    job = get_current_job()
    job_id = job.id if job else None
    if job:
        logs.job_id.set(job.id)
    with runlock.held(redis, LOCK_KEY.format(cid=connection_id), lock_ttl, wait=JOB_TIMEOUT):
        if not dry_run and job_id:
            # From here on, new triggers need a new waiting job: this one has started.
            runlock.compare_and_delete(redis, WAITING_KEY.format(cid=connection_id), job_id)
        env = context.environment(read_only=dry_run)
        # Re-checked here, under the lock: the connection or its site may have been disabled
        # since this job was enqueued. Nothing is recorded: no run took place.
        inactive = engine.inactive_reason(env.db, connection_id)
        if inactive:
            log.info("sync of connection %s not run (%s trigger): %s", connection_id, trigger,
                     inactive)
            return {"run_id": None, "status": "skipped", "reason": inactive}
        engine.close_interrupted(env.db, connection_id)
        # What webhooks named since the last run (a webhook run may be limited to it; every
        # other run covers it): taken before the run clears pending_changes.
        drained = None if dry_run else events.drain(redis, env.db, connection_id, trigger)
        if scope is None and drained is not None:
            scope = drained
            log.info("webhook run of connection %s: %d user(s), %d group(s) named",
                     connection_id, len(scope["users"]), len(scope["groups"]))
        try:
            targeted = Scope.from_json(scope)
        except ScopeError as exc:
            log.warning("sync of connection %s: %s; running it whole", connection_id, exc)
            targeted = Scope()
        run_id = engine.start_run(env.db, connection_id, trigger, dry_run, job_id, targeted)
        try:
            status = engine.run_sync(env, run_id, _progress(redis, connection_id, run_id))
        except Exception as exc:
            engine.finish(env.db, run_id, RunStatus.FAILED, error=f"internal error: {type(exc).__name__}")
            raise
    log.info("sync of connection %s ended %s (run %s)", connection_id, status, run_id)
    return {"run_id": run_id, "status": status, "scope": scope}


def apply_approved(run_id: int, connection_id: int, approver: str) -> dict[str, Any]:
    """Apply a held plan that an admin approved."""
    lock_ttl = context.settings()["SYNC_LOCK_TTL"]
    redis = context.redis()
    with runlock.held(redis, LOCK_KEY.format(cid=connection_id), lock_ttl, wait=JOB_TIMEOUT):
        env = context.environment()
        inactive = engine.inactive_reason(env.db, connection_id)
        if inactive:
            log.info("held run %s not applied: %s", run_id, inactive)
            return {"run_id": run_id, "status": RunStatus.HELD, "reason": inactive}
        engine.close_interrupted(env.db, connection_id)
        status = engine.apply_held(env, run_id, approver, _progress(redis, connection_id, run_id))
    return {"run_id": run_id, "status": status}


def schedule_tick() -> int:
    """Enqueue every connection that is due (the `rq cron` job, each minute)."""
    from workers import schedule, subscriptions

    context.settings()
    enqueued = schedule.tick(extensions.db, context.redis())
    try:  # IdP push subscriptions (Graph, Google) renewed before they expire
        subscriptions.renew_due(extensions.db, context.redis())
    except Exception:
        log.warning("subscription renewals not queued", exc_info=True)
    return enqueued


def purge_job() -> list[str]:
    """The daily `rq cron` entry: delete the data of sites uninstalled past the retention."""
    from workers.retention import purge_uninstalled

    cfg = context.settings()
    with extensions.db.session() as session:
        return purge_uninstalled(session, cfg["UNINSTALLED_RETENTION_DAYS"])


def ensure_subscriptions(connection_id: int) -> dict[str, Any]:
    """Create or renew the connection's IdP push subscriptions (Graph, Google)."""
    from workers import subscriptions

    return subscriptions.ensure(extensions.db, connection_id, context.settings())
