"""One run of the pipeline: fetch → desired → current → plan → guard → apply, recorded in SyncRun."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.config import DEFAULT_CONCURRENCY
from app.crypto import SecretError
from app.db import Database
from app.models import Connection, SyncRun
from workers.atlassian.target import AtlassianTarget
from workers.errors import QuotaExhausted, Stop, SyncError
from workers.sources import registry
from workers.sources.base import Source
from workers.sync import guard, linkstore, mapping, planner, snapshots
from workers.sync.current import admin_groups_among, read_current, site_admins_among
from workers.sync.executor import DEFERRED, Executor
from workers.sync.model import Snapshot
from workers.sync.plan import Plan
from workers.sync.policy import PolicyError, SyncPolicy, email_domain, from_connection, is_domain
from workers.vocabulary import RunStatus

log = logging.getLogger(__name__)

TargetFactory = Callable[[int], AtlassianTarget]
"""installation id → the site client (workers.atlassian.factory in production)."""
Progress = Callable[[int, int], None]

APPLIED_STATUSES = tuple(s for s in RunStatus if s.applied)


class RunFailed(Stop):
    """A run cannot go on; the message is what the admin reads."""


@dataclass(frozen=True, slots=True)
class Environment:
    """What a run needs from outside: the database, the site client, secrets, and the operator's URL rule."""

    db: Database
    target_for: TargetFactory
    decrypt: Callable[[str], str]
    allow_private: bool = False
    concurrency: int = DEFAULT_CONCURRENCY


def inactive_reason(db: Database, connection_id: int) -> str | None:
    """Why connection `connection_id` may not run now (gone, disabled, site not enabled), or None."""
    with db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None:
            return f"connection {connection_id} does not exist"
        return conn.inactive_reason()


def close_interrupted(db: Database, connection_id: int) -> int:
    """Mark runs left `running` by a worker that died as failed; call only under the run lock
    (then no live worker can be running them). Returns how many were closed."""
    with db.session() as session:
        stale = list(session.scalars(select(SyncRun).where(
            SyncRun.connection_id == connection_id, SyncRun.status == RunStatus.RUNNING)))
        for run in stale:
            run.status, run.finished_at = RunStatus.FAILED, datetime.now(UTC)
            run.error = ("interrupted: the worker stopped before the run finished; "
                         "the changes it recorded were made, the next run completes the rest")
        return len(stale)


def start_run(db: Database, connection_id: int, trigger: str, dry_run: bool,
              job_id: str | None = None) -> int:
    with db.session() as session:
        run = SyncRun(connection_id=connection_id, trigger=trigger, dry_run=dry_run,
                      status=RunStatus.RUNNING, counts={}, job_id=job_id)
        session.add(run)
        session.flush()
        return run.id


def finish(db: Database, run_id: int, status: str, reason: str | None = None,
           error: str | None = None, plan: Plan | None = None, counts: dict[str, Any] | None = None) -> None:
    with db.session() as session:
        run = session.get(SyncRun, run_id)
        run.status, run.finished_at = status, datetime.now(UTC)
        run.reason = reason if reason is not None else run.reason
        run.error = error
        if plan is not None:
            run.plan, run.ops_total = plan.to_json(), len(plan.ops)
        if counts is not None:
            run.counts = {**(run.counts or {}), **counts}
        if status in APPLIED_STATUSES:
            conn = session.get(Connection, run.connection_id)
            conn.last_run_at = run.finished_at


def make_source(conn: Connection, decrypt: Callable[[str], str], allow_private: bool) -> Source:
    """The connection's source with its settings and decrypted secrets, validated again."""
    settings = {**(conn.settings or {}), "connection_id": conn.id}
    return registry.build(conn.kind, settings, conn.get_secrets(decrypt),
                          allow_private=allow_private)


def previous_user_count(session, connection_id: int) -> int | None:  # type: ignore[no-untyped-def]
    counts = session.scalars(select(SyncRun.counts).where(
        SyncRun.connection_id == connection_id, SyncRun.status.in_(APPLIED_STATUSES),
        SyncRun.dry_run.is_(False)).order_by(SyncRun.id.desc()).limit(1)).first()
    return counts.get("desired_users") if counts else None


def run_sync(env: Environment, run_id: int, progress: Progress | None = None) -> str:
    """Run the pipeline for the SyncRun `run_id`; returns its final status (never raises for
    a remote or settings failure: those end the run `failed` with the message)."""
    try:
        return _pipeline(env, run_id, progress)
    except QuotaExhausted as exc:  # while reading the site: nothing was written yet
        defer(env.db, run_id, exc.retry_after, exc.message)
        return DEFERRED
    except (SyncError, PolicyError, SecretError) as exc:  # every category ends a run's reads
        message = getattr(exc, "message", None) or str(exc)
        log.warning("run %s failed: %s", run_id, message)
        finish(env.db, run_id, RunStatus.FAILED, error=message)
        return RunStatus.FAILED


def _pipeline(env: Environment, run_id: int, progress: Progress | None) -> str:
    with env.db.session() as session:
        run = session.get(SyncRun, run_id)
        conn = session.get(Connection, run.connection_id)
        inactive = conn.inactive_reason()
        if inactive:
            raise RunFailed(f"nothing was run: {inactive}")
        policy = from_connection(conn.mapping_mode, conn.mapping_config(), conn.filters,
                                 conn.default_groups, conn.deprovision, conn.policy)
        source = make_source(conn, env.decrypt, env.allow_private)
        links = linkstore.load(session, conn.id)
        previous = previous_user_count(session, conn.id)
        connection_id, installation_id, dry_run = conn.id, conn.installation_id, run.dry_run
        # Clear before fetching: a push that lands during this run sets it again.
        conn.pending_changes = False
    fetched = snapshots.fetch(env.db, run_id, source)
    snapshot = fetched.snapshot
    sync_policy = _with_invite_domains(env.db, connection_id, policy.sync, snapshot)
    desired = mapping.desired(snapshot, policy.mapping)
    target = env.target_for(installation_id)
    current = read_current(target, desired, links, sync_policy, env.concurrency)
    plan = planner.plan(desired, current, links, sync_policy)
    admins = site_admins_among(target, plan, env.concurrency)
    admin_groups = admin_groups_among(target, plan, current, env.concurrency)
    if admins or admin_groups:
        current.site_admins, current.admin_groups = admins, admin_groups
        plan = planner.plan(desired, current, links, sync_policy)
    verdict = guard.check(plan, complete=snapshot.complete, previous_user_count=previous,
                          policy=policy.guard, errors=snapshot.errors,
                          admin_groups=current.admin_groups)
    counts = {**plan.stats, "planned": plan.summary(), "idp_groups": len(snapshot.groups)}
    if dry_run:
        finish(env.db, run_id, RunStatus.PREVIEW, verdict.reason, plan=plan, counts=counts)
        snapshots.keep(env.db, fetched, RunStatus.PREVIEW, verdict.proceed)
        return RunStatus.PREVIEW
    if not verdict.proceed:
        status = RunStatus.HELD if verdict.decision == guard.HOLD else RunStatus.ABORTED
        finish(env.db, run_id, status, verdict.reason, plan=plan, counts=counts)
        return status
    finish_status = apply_plan(env, run_id, connection_id, installation_id, plan, links, progress,
                               target=target, counts=counts, reason=verdict.reason)
    snapshots.keep(env.db, fetched, finish_status, verdict.proceed)
    return finish_status


def _with_invite_domains(db: Database, connection_id: int, sync: SyncPolicy,
                         snapshot: Snapshot) -> SyncPolicy:
    """The policy with its invite allow-list; a connection without one gets the domains of
    the IdP's active users, stored once the IdP was read completely (the admin sees and
    edits it as `policy.invite_domains`)."""
    if sync.invite_domains is not None:
        return sync
    domains = sorted({d for u in snapshot.users.values() if u.active
                      for d in (email_domain(u.email),) if d and is_domain(d)})
    if snapshot.complete and not snapshot.incremental:
        with db.session() as session:
            conn = session.get(Connection, connection_id)
            if "invite_domains" not in (conn.policy or {}):
                conn.policy = {**(conn.policy or {}), "invite_domains": domains}
                log.info("connection %s: invite allow-list filled from the IdP: %s",
                         connection_id, ", ".join(domains) or "(none)")
    return replace(sync, invite_domains=tuple(domains))


def apply_plan(env: Environment, run_id: int, connection_id: int, installation_id: int, plan: Plan,
               links: planner.Links, progress: Progress | None, *, target: AtlassianTarget | None = None,
               counts: dict[str, Any] | None = None, reason: str | None = None) -> str:
    with env.db.session() as session:
        run = session.get(SyncRun, run_id)
        run.plan, run.ops_total, run.status = plan.to_json(), len(plan.ops), RunStatus.RUNNING
        if counts:
            run.counts = {**(run.counts or {}), **counts}
    target = target or env.target_for(installation_id)
    outcome = Executor(env.db, run_id, connection_id, target, links, progress).apply(plan)
    applied = {"applied": outcome.applied, "failed": outcome.failed, "skipped": outcome.skipped,
               "applied_by_kind": outcome.by_kind}
    if outcome.deferred_for is not None:
        defer(env.db, run_id, outcome.deferred_for, outcome.stopped_by or "", counts=applied)
        return DEFERRED
    finish(env.db, run_id, outcome.status, reason, error=outcome.stopped_by, counts=applied)
    return outcome.status


def defer(db: Database, run_id: int, seconds: float, message: str,
          counts: dict[str, Any] | None = None) -> None:
    """End the run `deferred` with Atlassian's words and when it continues; the schedule tick
    starts the connection's next sync once the quota has reset (no worker waits for it)."""
    resume = datetime.now(UTC) + timedelta(seconds=max(1.0, seconds))
    with db.session() as session:
        run = session.get(SyncRun, run_id)
        session.get(Connection, run.connection_id).deferred_until = resume
    finish(db, run_id, DEFERRED, f"deferred until {resume:%H:%M} UTC: {message}", counts=counts)


def apply_held(env: Environment, run_id: int, approver: str, progress: Progress | None = None) -> str:
    """Apply the plan an admin approved, exactly as it was previewed."""
    with env.db.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != RunStatus.HELD:
            raise RunFailed(f"run {run_id} is not waiting for approval")
        conn = session.get(Connection, run.connection_id)
        inactive = conn.inactive_reason()
        if inactive:
            raise RunFailed(f"run {run_id} stays held: {inactive}")
        run.approved_by, run.status = approver, RunStatus.RUNNING
        links = linkstore.load(session, conn.id)
        plan, cid, iid = Plan.from_json(run.plan), conn.id, conn.installation_id
    try:
        return apply_plan(env, run_id, cid, iid, plan, links, progress)
    except (SyncError, SecretError) as exc:
        finish(env.db, run_id, RunStatus.FAILED, error=exc.message)
        return RunStatus.FAILED


def discard_held(db: Database, run_id: int, by: str) -> None:
    with db.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != RunStatus.HELD:
            raise RunFailed(f"run {run_id} is not waiting for approval")
        run.status, run.approved_by, run.finished_at = RunStatus.DISCARDED, by, datetime.now(UTC)
