"""When a run reconciles, what counts as drift, and the stored form of a run's counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workers.sync import reconcile
from workers.sync.counts import Drift, RunCounts
from workers.sync.mirror import Mirror, drift

NOW = datetime(2026, 1, 2, 12, tzinfo=UTC)


def reason(**overrides):  # type: ignore[no-untyped-def]
    args = {"trigger": "schedule", "mirror_built": True, "reconciled_at": NOW - timedelta(hours=1),
            "interval_hours": 24, "last_status": "succeeded", "now": NOW, **overrides}
    return reconcile.reason(**args)


def test_when_a_run_reconciles():
    assert reason() is None
    assert reason(trigger="reconcile") == "a reconcile was asked for"
    assert reason(mirror_built=False) == "no mirror of the managed groups yet"
    assert reason(last_status="failed") == "the last run ended failed"
    assert reason(last_status="partially_failed") == "the last run ended partially failed"
    assert reason(last_status="held") is None and reason(last_status="deferred") is None
    assert reason(reconciled_at=None) == "a reconcile was asked for"
    assert "older than 24 hours" in reason(reconciled_at=NOW - timedelta(hours=24))
    assert reason(reconciled_at=NOW - timedelta(hours=5), interval_hours=6) is None
    assert reason(reconciled_at=NOW - timedelta(hours=6), interval_hours=6) is not None
    # naive timestamps (SQLite) are UTC
    assert reason(reconciled_at=(NOW - timedelta(hours=30)).replace(tzinfo=None)) is not None


def test_drift_counts_only_managed_groups():
    mirror = Mirror(groups={"g1": "eng", "g2": "ops", "g3": "gone"},
                    members={"g1": {"a", "b"}, "g2": {"c"}, "g3": {"d"}})
    site_groups = {"g1": "eng", "g2": "ops", "g9": "new"}
    found = drift(mirror, site_groups, {"g1": {"a", "x"}, "g2": {"c"}, "g9": {"z"}})
    assert (found.added, found.removed, found.groups_gone, found.total) == (1, 1, 1, 3)
    assert "group 'gone' was deleted on the site" in found.examples
    assert any("x was added to 'eng'" in e for e in found.examples)


def test_counts_keep_the_keys_the_admin_api_reads():
    counts = RunCounts(fetch="incremental", planning="incremental", stats={"desired_users": 3},
                       planned={"add_member": 1}, applied=1, failed=0, skipped=0,
                       applied_by_kind={"add_member": 1}, drift=Drift(removed=2))
    stored = counts.to_json()
    assert stored["desired_users"] == 3 and stored["planned"] == {"add_member": 1}
    assert (stored["applied"], stored["failed"], stored["applied_by_kind"]) == (
        1, 0, {"add_member": 1})
    assert stored["drift"]["total"] == 2 and "scope" not in stored
    assert counts.converged and not RunCounts(skipped=1).converged
