"""Rows as the admin API answers them (the schemas in app/admin/schemas/ shape the rest)."""

from __future__ import annotations

from typing import Any

from app.models import Connection, SyncRun
from workers.sync import plan_store
from workers.sync.plan import APPLY_ORDER, PlanFormatError
from workers.vocabulary import RunStatus

HELD = RunStatus.HELD


def run_summary(run: SyncRun) -> dict[str, Any]:
    return {"id": run.id, "connection_id": run.connection_id, "trigger": run.trigger,
            "dry_run": run.dry_run, "status": run.status, "reason": run.reason,
            "error": run.error, "held": run.status == HELD, "started_at": run.started_at,
            "finished_at": run.finished_at, "ops_total": run.ops_total or 0,
            "ops_done": run.ops_done or 0, "approved_by": run.approved_by}


def plan_summary(run: SyncRun) -> dict[str, int]:
    """Counts per kind: from the run's counts when recorded, else read from the stored plan."""
    planned = (run.counts or {}).get("planned")
    if isinstance(planned, dict):
        return {k: int(planned.get(k, 0)) for k in APPLY_ORDER}
    if run.plan:
        try:
            summary = plan_store.head(run.plan).get("summary") or {}
            return {k: int(summary.get(k, 0)) for k in APPLY_ORDER}
        except (PlanFormatError, AttributeError, TypeError):
            pass
    return {k: 0 for k in APPLY_ORDER}


def connection(conn: Connection, settings: dict[str, Any], scim_url: str | None,
               last_run: SyncRun | None) -> dict[str, Any]:
    return {"id": conn.id, "name": conn.name, "kind": conn.kind, "enabled": conn.enabled,
            "settings": settings, "mapping_mode": conn.mapping_mode, "schedule": conn.schedule,
            "next_run_at": conn.next_run_at, "last_run_at": conn.last_run_at,
            "created_at": conn.created_at,
            "scim": {"base_url": scim_url} if scim_url else None,
            "last_run": run_summary(last_run) if last_run else None}
