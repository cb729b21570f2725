"""Runs: preview and sync now, job → run, status with live progress, plan, approve/discard,
history, a run's changes and their export."""

from __future__ import annotations

import re
from typing import Any

from flask import Response
from sqlalchemy import select
from sqlalchemy.orm import defer

from app import extensions
from app.admin import paging, present, tenancy
from app.admin.api import Context, operation
from app.admin.errors import conflict, not_found
from app.admin.schemas import common
from app.admin.schemas import runs as s
from app.admin.views import exports
from app.admin.views.queueing import redis, with_queue
from app.models import Change, Connection, SyncRun
from workers.queue import PROGRESS_KEY, enqueue_approval, enqueue_sync, fetch_job
from workers.sync import plan_page
from workers.sync.plan import PlanFormatError
from workers.vocabulary import RunStatus, Trigger

TAG = "runs"
JOB_ID = re.compile(r"^(sync|approve)-(\d{1,10})-[0-9a-f]{8,12}$")


def _enqueue(ctx: Context, connection_id: int, dry_run: bool,
             reconcile: bool = False) -> dict[str, Any]:
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        # The worker runs nothing for a disabled connection, not even a preview: say so now.
        inactive = conn.inactive_reason()
        if inactive:
            raise conflict(f"{inactive}: enable it first")
        if reconcile:  # due now, whichever waiting job runs next
            conn.reconciled_at = None
        cid = conn.id
    trigger = Trigger.RECONCILE if reconcile else Trigger.MANUAL
    job_id = with_queue(lambda r: enqueue_sync(r, cid, trigger, dry_run))
    return {"job_id": job_id, "run_id": None}


@operation("/connections/<int:connection_id>/preview", "POST",
           summary="Enqueue a dry run; its plan is the preview", tag=TAG,
           answer=common.JobAnswer, status=202, errors=(404, 409, 503))
def preview(ctx: Context, connection_id: int) -> dict[str, Any]:
    return _enqueue(ctx, connection_id, dry_run=True)


@operation("/connections/<int:connection_id>/sync", "POST", summary="Sync now", tag=TAG,
           body=s.SyncRequest, answer=common.JobAnswer, status=202, errors=(404, 409, 503))
def sync_now(ctx: Context, connection_id: int) -> dict[str, Any]:
    return _enqueue(ctx, connection_id, dry_run=False, reconcile=ctx.body["reconcile"])


@operation("/jobs/<job_id>", "GET", summary="A queued job and the run it made", tag=TAG,
           answer=common.JobState, errors=(404,))
def job_state(ctx: Context, job_id: str) -> dict[str, Any]:
    found = JOB_ID.match(job_id)
    if not found:
        raise not_found("job")
    with extensions.db.session() as session:
        if found.group(1) == "sync":
            tenancy.connection(session, ctx.caller, int(found.group(2)), include_deleted=True)
            run = session.scalars(select(SyncRun).where(SyncRun.job_id == job_id)).first()
        else:
            run = tenancy.run(session, ctx.caller, int(found.group(2)))
        run_id = run.id if run else None
    job = with_queue(lambda r: fetch_job(r, job_id))
    state = job.get_status(refresh=False) if job is not None else None
    return {"job_id": job_id, "state": str(getattr(state, "value", state) or "unknown"),
            "run_id": run_id}


def _progress(run: SyncRun) -> dict[str, int] | None:
    if run.status != RunStatus.RUNNING:
        return None
    try:
        raw = redis().hgetall(PROGRESS_KEY.format(cid=run.connection_id))
    except Exception:  # live progress is a nicety: the run row still has ops_done
        return {"done": run.ops_done or 0, "total": run.ops_total or 0}
    values = {k.decode(): v.decode() for k, v in raw.items()}
    if values.get("run_id") != str(run.id):
        return {"done": run.ops_done or 0, "total": run.ops_total or 0}
    return {"done": int(values.get("done", 0)), "total": int(values.get("total", 0))}


@operation("/runs/<int:run_id>", "GET", summary="A run: status, counts and live progress",
           tag=TAG, answer=s.Run, errors=(404,))
def get_run(ctx: Context, run_id: int) -> dict[str, Any]:
    with extensions.db.session() as session:
        run = tenancy.run(session, ctx.caller, run_id)
        body = {**present.run_summary(run), "counts": run.counts or {},
                "summary": present.plan_summary(run)}
    progress = _progress(run)
    if progress:
        body["ops_done"], body["ops_total"] = progress["done"], progress["total"] or body["ops_total"]
    body["progress"] = progress
    return body


@operation("/runs/<int:run_id>/plan", "GET", summary="The stored plan, every change, paged",
           tag=TAG, query=s.PlanQuery, answer=s.PlanAnswer, errors=(404, 409))
def get_plan(ctx: Context, run_id: int) -> dict[str, Any]:
    with extensions.db.session() as session:
        run = tenancy.run(session, ctx.caller, run_id)
        if not run.plan:
            raise conflict(f"run {run_id} has no stored plan (status {run.status})")
        head = present.run_summary(run)
        text = run.plan
    start = paging.decode(ctx.query.get("cursor"))
    limit = ctx.query["limit"]
    try:
        found = plan_page.page(text, start, limit, ctx.query.get("kind"))
    except PlanFormatError as exc:
        raise conflict(f"the stored plan of run {run_id} cannot be read: {exc}") from None
    items = [{"index": index, "kind": op.kind, "group_id": op.group_id,
              "group_name": op.group_name, "account_id": op.account_id,
              "idp_user_id": op.idp_user_id, "email": op.email,
              "display_name": op.display_name, "products": list(op.products),
              "reason": op.reason} for index, op in found.items]
    return {"run_id": head["id"], "status": head["status"], "held": head["held"],
            "reason": head["reason"], "summary": found.summary,
            "notices": [n._asdict() for n in found.notices], "items": items,
            "next_cursor": paging.encode(items[-1]["index"]) if found.more and items else None}


@operation("/runs/<int:run_id>/approve", "POST", summary="Apply a held plan", tag=TAG,
           answer=common.JobAnswer, status=202, errors=(404, 409, 503))
def approve_run(ctx: Context, run_id: int) -> dict[str, Any]:
    with extensions.db.session() as session:
        run = tenancy.run(session, ctx.caller, run_id)
        if run.status != RunStatus.HELD:
            raise conflict(f"run {run_id} is not waiting for approval (status {run.status})")
        inactive = session.get(Connection, run.connection_id).inactive_reason()
        if inactive:
            raise conflict(f"{inactive}: enable it to apply the held plan")
        cid = run.connection_id
    by = ctx.caller.account_id
    job_id = with_queue(lambda r: enqueue_approval(r, run_id, cid, by))
    return {"job_id": job_id, "run_id": run_id}


@operation("/runs/<int:run_id>/discard", "POST", summary="Discard a held plan", tag=TAG,
           answer=s.RunSummary, errors=(404, 409))
def discard_run(ctx: Context, run_id: int) -> dict[str, Any]:
    from workers.sync.engine import RunFailed, discard_held

    with extensions.db.session() as session:
        tenancy.run(session, ctx.caller, run_id)
    try:
        discard_held(extensions.db, run_id, ctx.caller.account_id)
    except RunFailed as exc:
        raise conflict(str(exc)) from None
    with extensions.db.session() as session:
        return present.run_summary(session.get(SyncRun, run_id))


@operation("/connections/<int:connection_id>/runs", "GET", summary="Run history, newest first",
           tag=TAG, query=common.PageQuery, answer=s.RunPage, errors=(404,))
def run_history(ctx: Context, connection_id: int) -> dict[str, Any]:
    before = paging.decode(ctx.query.get("cursor"))
    limit = ctx.query["limit"]
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        stmt = select(SyncRun).options(defer(SyncRun.plan)).where(SyncRun.connection_id == conn.id)
        if before is not None:
            stmt = stmt.where(SyncRun.id < before)
        rows = list(session.scalars(stmt.order_by(SyncRun.id.desc()).limit(limit + 1)))
        items = [present.run_summary(r) for r in rows[:limit]]
    return {"items": items, "next_cursor": paging.encode(items[-1]["id"]) if len(rows) > limit else None}


def change_row(c: Change) -> dict[str, Any]:
    return {"id": c.id, "seq": c.seq, "kind": c.kind, "group_id": c.group_id,
            "group_name": c.group_name, "account_id": c.account_id, "idp_user_id": c.idp_user_id,
            "email": c.email, "before": c.before, "after": c.after, "outcome": c.outcome,
            "message": c.message, "at": c.at}


def changes_query(run_id: int, kind: str | None, outcome: str | None, after: int | None):  # type: ignore[no-untyped-def]
    stmt = select(Change).where(Change.run_id == run_id)
    if kind:
        stmt = stmt.where(Change.kind == kind)
    if outcome:
        stmt = stmt.where(Change.outcome == outcome)
    if after is not None:
        stmt = stmt.where(Change.id > after)
    return stmt.order_by(Change.id)


@operation("/runs/<int:run_id>/changes", "GET",
           summary="A run's recorded changes, filtered and keyset-paged", tag=TAG,
           query=s.ChangeQuery, answer=s.ChangePage, errors=(404,))
def run_changes(ctx: Context, run_id: int) -> dict[str, Any]:
    after = paging.decode(ctx.query.get("cursor"))
    limit = ctx.query["limit"]
    with extensions.db.session() as session:
        run = tenancy.run(session, ctx.caller, run_id)
        rows = list(session.scalars(changes_query(run.id, ctx.query.get("kind"),
                                                  ctx.query.get("outcome"), after).limit(limit + 1)))
        items = [change_row(c) for c in rows[:limit]]
    return {"items": items,
            "next_cursor": paging.encode(items[-1]["id"]) if len(rows) > limit else None}


def _export(ctx: Context, run_id: int, fmt: str) -> Response:
    with extensions.db.session() as session:
        run = tenancy.run(session, ctx.caller, run_id)
        conn_name = session.get(Connection, run.connection_id).name
    return exports.stream(run_id, fmt, ctx.query.get("kind"), ctx.query.get("outcome"), conn_name)


@operation("/runs/<int:run_id>/changes.csv", "GET", summary="Export a run's changes as CSV",
           tag=TAG, query=s.ExportQuery, produces=("text/csv",), errors=(404,))
def export_csv(ctx: Context, run_id: int) -> Response:
    return _export(ctx, run_id, "csv")


@operation("/runs/<int:run_id>/changes.json", "GET", summary="Export a run's changes as JSON",
           tag=TAG, query=s.ExportQuery, produces=("application/json",), errors=(404,))
def export_json(ctx: Context, run_id: int) -> Response:
    return _export(ctx, run_id, "json")
