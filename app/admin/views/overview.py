"""The overview: each connection's health, last and next run, and recent runs for the chart."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from app import extensions
from app.admin import present, tenancy
from app.admin.api import Context, operation
from app.admin.schemas import overview as s
from app.admin.views.credential import summary as credential_summary
from app.models import SyncRun

TAG = "overview"
HISTORY = 20
FAILING = ("failed", "aborted", "partially_failed")


def _health(enabled: bool, last: SyncRun | None) -> str:
    if not enabled:
        return "disabled"
    if last is None:
        return "never_run"
    if last.status == "running":
        return "running"
    if last.status == "held":
        return "held"
    return "failing" if last.status in FAILING else "ok"


def _recent_runs(session, connection_ids: list[int]) -> dict[int, list[SyncRun]]:  # type: ignore[no-untyped-def]
    """The last HISTORY runs of every connection in one indexed query (a window per connection)."""
    if not connection_ids:
        return {}
    position = func.row_number().over(partition_by=SyncRun.connection_id,
                                      order_by=SyncRun.id.desc()).label("position")
    ranked = (select(SyncRun.id, position).where(SyncRun.connection_id.in_(connection_ids))
              .subquery())
    rows = session.scalars(select(SyncRun).join(ranked, ranked.c.id == SyncRun.id)
                           .where(ranked.c.position <= HISTORY).order_by(SyncRun.id))
    out: dict[int, list[SyncRun]] = defaultdict(list)
    for run in rows:
        out[run.connection_id].append(run)
    return out


def _counts(run: SyncRun) -> dict[str, int]:
    counts = run.counts or {}
    return {"applied": int(counts.get("applied") or 0), "failed": int(counts.get("failed") or 0)}


@operation("/overview", "GET", summary="Every connection's health and recent runs", tag=TAG,
           answer=s.Overview)
def overview(ctx: Context) -> dict[str, Any]:
    with extensions.db.session() as session:
        conns = tenancy.connections(session, ctx.caller)
        recent = _recent_runs(session, [c.id for c in conns])
        items = []
        for conn in conns:
            runs = recent.get(conn.id, [])
            last = runs[-1] if runs else None
            items.append({"id": conn.id, "name": conn.name, "kind": conn.kind,
                          "enabled": conn.enabled, "health": _health(conn.enabled, last),
                          "last_run": present.run_summary(last) if last else None,
                          "next_run_at": conn.next_run_at,
                          "counts": _counts(last) if last else {"applied": 0, "failed": 0},
                          "history": [{"run_id": r.id, "started_at": r.started_at,
                                       "status": r.status, **_counts(r)} for r in runs]})
    return {"connections": items, "credential": credential_summary(ctx.caller.installation.id)}
