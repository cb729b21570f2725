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
from workers.errors import QuotaExhausted, SyncError
from workers.sync import guard, linkstore, plan_store, planning, snapshots
from workers.sync import run as run_context
from workers.sync.counts import RunCounts
from workers.sync.executor import DEFERRED, Executor
from workers.sync.kept_desired import Keep
from workers.sync.model import Snapshot
from workers.sync.plan import Plan, bulk_allocation
from workers.sync.planner import Links
from workers.sync.policy import PolicyError, SyncPolicy, email_domain, is_domain
from workers.sync.run import APPLIED_STATUSES, RunContext, RunFailed, make_source
from workers.sync.scope import Scope, ScopeError
from workers.sync.stored_members import DamagedMembers
from workers.vocabulary import RunStatus

log = logging.getLogger(__name__)
__all__ = ["Environment", "RunFailed", "apply_held", "close_interrupted", "discard_held",
           "finish", "inactive_reason", "make_source", "run_sync", "start_run"]

TargetFactory = Callable[[int], AtlassianTarget]
"""installation id → the site client (workers.atlassian.factory in production)."""
Progress = Callable[[int, int], None]



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
    (then no live worker can be running them). Returns how many were closed. The next run
    reconciles: the killed chunk's writes may be on the site without being in the mirror."""
    with db.session() as session:
        stale = list(session.scalars(select(SyncRun).where(
            SyncRun.connection_id == connection_id, SyncRun.status == RunStatus.RUNNING)))
        for run in stale:
            run.status, run.finished_at = RunStatus.FAILED, datetime.now(UTC)
            run.error = ("interrupted: the worker stopped before the run finished; "
                         "the changes it recorded were made, the next run reconciles and "
                         "completes the rest")
        return len(stale)


def start_run(db: Database, connection_id: int, trigger: str, dry_run: bool,
              job_id: str | None = None, scope: Scope | None = None) -> int:
    with db.session() as session:
        run = SyncRun(connection_id=connection_id, trigger=trigger, dry_run=dry_run,
                      status=RunStatus.RUNNING, counts={}, job_id=job_id,
                      scope=scope.to_json() if scope is not None and not scope.empty else None)
        session.add(run)
        session.flush()
        return run.id


def finish(db: Database, run_id: int, status: str, reason: str | None = None,
           error: str | None = None, plan: Plan | None = None,
           counts: RunCounts | dict[str, Any] | None = None) -> None:
    with db.session() as session:
        run = session.get(SyncRun, run_id)
        run.status, run.finished_at = status, datetime.now(UTC)
        run.reason = reason if reason is not None else run.reason
        run.error = error
        if plan is not None:
            run.plan, run.ops_total = plan_store.dump(plan), len(plan.ops)
        if counts is not None:
            stored = counts.to_json() if isinstance(counts, RunCounts) else counts
            run.counts = {**(run.counts or {}), **stored}
        if status in APPLIED_STATUSES:
            conn = session.get(Connection, run.connection_id)
            conn.last_run_at = run.finished_at


def run_sync(env: Environment, run_id: int, progress: Progress | None = None,
             scope: Scope | None = None) -> str:
    """Run the pipeline for the SyncRun `run_id`; returns its final status (never raises for
    a remote or settings failure: those end the run `failed` with the message). A `scope`
    (or the run's stored one) makes it a targeted run of those IdP users and groups."""
    if scope is not None and not scope.empty:
        with env.db.session() as session:
            session.get(SyncRun, run_id).scope = scope.to_json()
    try:
        # A run holds millions of small acyclic objects (snapshot, desired state, plan); the
        # cyclic collector's passes over them would cost more than the run's own work.
        with bulk_allocation():
            return _pipeline(env, run_id, progress)
    except QuotaExhausted as exc:  # while reading the site: nothing was written yet
        defer(env.db, run_id, exc.retry_after, exc.message)
        return DEFERRED
    except DamagedMembers as exc:  # found only once a step looked into the damaged group
        log.error("run %s: %s; the stored IdP base is dropped", run_id, exc)
        snapshots.forget(env.db, run_id)
        finish(env.db, run_id, RunStatus.FAILED,
               error=f"{exc}: the stored IdP base was dropped, the next run reads the IdP in full")
        return RunStatus.FAILED
    except (SyncError, PolicyError, SecretError, ScopeError) as exc:  # every category ends a run's reads
        message = getattr(exc, "message", None) or str(exc)
        log.warning("run %s failed: %s", run_id, message)
        finish(env.db, run_id, RunStatus.FAILED, error=message)
        return RunStatus.FAILED


def _pipeline(env: Environment, run_id: int, progress: Progress | None) -> str:
    with env.db.session() as session:
        # links are loaded once the run is known to plan something (a no-op needs none)
        ctx = run_context.load(session, run_id, env.decrypt, env.allow_private, links=False)
        # Cleared before fetching: a push that lands during this run sets it again.
        session.get(Connection, ctx.connection_id).pending_changes = False
    # A run building on a converged last run asks the IdP for its changes first: when there
    # are none, the mirror already matches and nothing is decoded, mapped or planned.
    fetched = (snapshots.fetch_targeted(env.db, run_id, ctx.source, ctx.scope)
               or snapshots.fetch(env.db, run_id, ctx.source, skip_unchanged=ctx.builds_on_last))
    # a delta's planning loads only the links it needs (planning.PARTIAL_LINKS)
    mode = planning.mode_for(ctx, fetched)
    if not fetched.unchanged and mode not in planning.PARTIAL_LINKS:
        with env.db.session() as session:
            ctx = run_context.with_links(session, ctx)
    sync_policy = _with_invite_domains(env.db, ctx.connection_id, ctx.policy.sync,
                                       fetched.snapshot)
    if sync_policy is not ctx.policy.sync:  # the allow-list just filled is part of the basis
        with env.db.session() as session:
            ctx = replace(ctx, basis=run_context.basis_of(session.get(Connection,
                                                                      ctx.connection_id)))
    target = env.target_for(ctx.installation_id)
    made = planning.make(env, ctx, fetched, sync_policy, target, mode)
    if made.links is not None:
        ctx = replace(ctx, links=made.links)
    counts = made.counts
    snapshot = fetched.snapshot
    verdict = guard.check(made.plan, complete=snapshot.complete,
                          previous_user_count=ctx.previous_user_count, policy=ctx.policy.guard,
                          errors=snapshot.errors, admin_groups=made.admin_groups)
    counts.stats, counts.planned = dict(made.plan.stats), made.plan.summary()
    counts.idp_groups = (len(snapshot.groups) if not fetched.unchanged
                         else (ctx.last.counts if ctx.last else {}).get("idp_groups"))
    if ctx.dry_run:
        finish(env.db, run_id, RunStatus.PREVIEW, verdict.reason, plan=made.plan, counts=counts)
        snapshots.keep(env.db, fetched, RunStatus.PREVIEW, verdict.proceed,
                       desired=_kept(made, ctx))
        return RunStatus.PREVIEW
    if not verdict.proceed:
        status = RunStatus.HELD if verdict.decision == guard.HOLD else RunStatus.ABORTED
        finish(env.db, run_id, status, verdict.reason, plan=made.plan, counts=counts)
        return status
    finish_status = apply_plan(env, ctx, made.plan, progress, target=target, counts=counts,
                               reason=verdict.reason)
    snapshots.keep(env.db, fetched, finish_status, verdict.proceed,
                   unchanged=counts.planning == planning.UNCHANGED, desired=_kept(made, ctx))
    return finish_status


def _kept(made: planning.Made, ctx: RunContext) -> Keep | None:
    """The run's desired state, to keep with the snapshot it stores (None: nothing planned)."""
    return Keep(made.desired, ctx.policy.mapping, ctx.basis) if made.desired is not None else None


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


def apply_plan(env: Environment, ctx: RunContext | HeldRun, plan: Plan,
               progress: Progress | None, *, target: AtlassianTarget | None = None,
               counts: RunCounts | None = None, reason: str | None = None,
               stored: bool = False) -> str:
    """Apply `plan` for the run, storing it first unless it was read from the run's row
    (`stored`): a held plan is applied as read from the text the admin previewed, and
    storing a first sync's plan again would cost as much as planning it."""
    counts = counts or RunCounts()
    with env.db.session() as session:
        run = session.get(SyncRun, ctx.run_id)
        if not stored:
            run.plan, run.ops_total = plan_store.dump(plan), len(plan.ops)
        run.status = RunStatus.RUNNING
        run.counts = {**(run.counts or {}), **counts.to_json()}
    target = target or env.target_for(ctx.installation_id)
    outcome = Executor(env.db, ctx.run_id, ctx.connection_id, target, ctx.links,
                       progress).apply(plan)
    counts.applied, counts.failed, counts.skipped = outcome.applied, outcome.failed, outcome.skipped
    counts.applied_by_kind = outcome.by_kind
    applied = {k: v for k, v in counts.to_json().items()
               if k in ("applied", "failed", "skipped", "applied_by_kind")}
    if outcome.deferred_for is not None:
        defer(env.db, ctx.run_id, outcome.deferred_for, outcome.stopped_by or "", counts=applied)
        return DEFERRED
    finish(env.db, ctx.run_id, outcome.status, reason, error=outcome.stopped_by, counts=applied)
    return outcome.status


@dataclass(frozen=True, slots=True)
class HeldRun:
    """What applying an approved plan needs: the run, its connection and site, and the links."""

    run_id: int
    connection_id: int
    installation_id: int
    links: Links


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
        held = HeldRun(run_id, conn.id, conn.installation_id, linkstore.load(session, conn.id))
        plan = plan_store.load(run.plan)
    try:
        return apply_plan(env, held, plan, progress, stored=True)
    except (SyncError, SecretError) as exc:
        finish(env.db, run_id, RunStatus.FAILED, error=exc.message)
        return RunStatus.FAILED


def discard_held(db: Database, run_id: int, by: str) -> None:
    with db.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != RunStatus.HELD:
            raise RunFailed(f"run {run_id} is not waiting for approval")
        run.status, run.approved_by, run.finished_at = RunStatus.DISCARDED, by, datetime.now(UTC)
