"""The overview: each connection's health, last and next run, and recent runs for the chart."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from app import extensions
from app.admin import present
from app.admin.api import Context, operation
from app.admin.schemas import overview as s
from app.admin.schemas.credential import CredentialSummary
from app.admin.views.credential import summary as credential_summary
from app.models import Connection, SyncRun
from workers.vocabulary import RunStatus

TAG = "overview"
HISTORY = 20
FAILING = (RunStatus.FAILED, RunStatus.ABORTED, RunStatus.PARTIALLY_FAILED)


RUN_COLUMNS = (SyncRun.id, SyncRun.connection_id, SyncRun.trigger, SyncRun.dry_run,
               SyncRun.status, SyncRun.reason, SyncRun.error, SyncRun.started_at,
               SyncRun.finished_at, SyncRun.ops_total, SyncRun.ops_done, SyncRun.approved_by,
               SyncRun.counts["applied"].as_integer().label("applied"),
               SyncRun.counts["failed"].as_integer().label("failed"))
"""Everything the overview shows of a run; never the stored plan, which can be megabytes, and
of its counts only the two figures (decoding a thousand JSON objects was most of the time)."""
CONNECTION_COLUMNS = (Connection.id, Connection.name, Connection.kind, Connection.enabled,
                      Connection.next_run_at, Connection.deferred_until)


def _health(enabled: bool, last: Any) -> str:
    if not enabled:
        return "disabled"
    if last is None:
        return "never_run"
    if last.status == RunStatus.RUNNING:
        return RunStatus.RUNNING
    if last.status in (RunStatus.HELD, RunStatus.DEFERRED):
        return last.status  # waiting: for an admin's approval, or for Atlassian's quota reset
    return "failing" if last.status in FAILING else "ok"


def _recent_runs(session, connection_ids: list[int]) -> dict[int, list[Any]]:  # type: ignore[no-untyped-def]
    """The last HISTORY runs of every connection in one indexed query (a window per connection)."""
    if not connection_ids:
        return {}
    position = func.row_number().over(partition_by=SyncRun.connection_id,
                                      order_by=SyncRun.id.desc()).label("position")
    ranked = select(*RUN_COLUMNS, position).where(
        SyncRun.connection_id.in_(connection_ids)).subquery()
    rows = session.execute(select(ranked).where(ranked.c.position <= HISTORY)
                           .order_by(ranked.c.id))
    out: dict[int, list[Any]] = defaultdict(list)
    for run in rows:
        out[run.connection_id].append(run)
    return out


def _counts(run: Any) -> dict[str, int]:
    return {"applied": int(run.applied or 0), "failed": int(run.failed or 0)}


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(run: Any) -> dict[str, Any]:
    body = present.run_summary(run)
    body["started_at"], body["finished_at"] = _time(run.started_at), _time(run.finished_at)
    return body


@operation("/overview", "GET", summary="Every connection's health and recent runs", tag=TAG,
           answer=s.Overview, dump=False)
def overview(ctx: Context) -> dict[str, Any]:
    # Built JSON-ready here rather than dumped through the schema (which documents it): with
    # a hundred connections the schema's per-field dump was half of the answer's time.
    with extensions.db.session() as session:
        conns = list(session.execute(select(*CONNECTION_COLUMNS).where(
            Connection.installation_id == ctx.caller.installation.id,
            Connection.deleted_at.is_(None)).order_by(Connection.id)))
        recent = _recent_runs(session, [c.id for c in conns])
        items = []
        for conn in conns:
            runs = recent.get(conn.id, [])
            last = runs[-1] if runs else None
            items.append({"id": conn.id, "name": conn.name, "kind": conn.kind,
                          "enabled": conn.enabled, "health": _health(conn.enabled, last),
                          "last_run": _summary(last) if last else None,
                          "next_run_at": _time(conn.next_run_at),
                          "deferred_until": _time(conn.deferred_until),
                          "counts": _counts(last) if last else {"applied": 0, "failed": 0},
                          "history": [{"run_id": r.id, "started_at": _time(r.started_at),
                                       "status": r.status, **_counts(r)} for r in runs]})
    credential = CredentialSummary().dump(credential_summary(ctx.caller.installation.id))
    return {"connections": items, "credential": credential}
