"""The drift reconcile: when a run reads the managed groups from the site instead of the mirror."""

from __future__ import annotations

from datetime import datetime, timedelta

from workers.vocabulary import Trigger

RECONCILE = Trigger.RECONCILE
"""The trigger of a run enqueued to reconcile (by the schedule tick, the CLI or the admin API)."""
UNCLEAN = ("failed", "partially_failed")
"""Last-run outcomes after which the mirror may be short of what was written: a run killed
mid-chunk is closed `failed`, and a failed write may have reached the site anyway."""


def reason(*, trigger: str, mirror_built: bool, reconciled_at: datetime | None,
           interval_hours: int | None, last_status: str | None, now: datetime) -> str | None:
    """Why this run reads the site in full (a sentence for the run), or None to use the mirror."""
    if trigger == RECONCILE:
        return "a reconcile was asked for"
    if not mirror_built:
        return "no mirror of the managed groups yet"
    if last_status in UNCLEAN:
        return f"the last run ended {last_status.replace('_', ' ')}"
    if reconciled_at is None:
        return "a reconcile was asked for"
    if is_due(reconciled_at, interval_hours, now):
        return f"the last reconcile is older than {interval_hours or 24} hours"
    return None


def is_due(reconciled_at: datetime | None, interval_hours: int | None, now: datetime) -> bool:
    if reconciled_at is None:
        return True
    at = reconciled_at if reconciled_at.tzinfo else reconciled_at.replace(tzinfo=now.tzinfo)
    return now - at >= timedelta(hours=max(1, interval_hours or 24))
