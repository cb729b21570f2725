"""Atlassian's hourly points quota: a run it stops is deferred to the reset, never slept out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import extensions
from app.models import Connection
from tests.engine.harness import directory, stack
from workers.schedule import due_connections

ALICE = ("u-alice", "alice@example.com", True)
BOB = ("u-bob", "bob@example.com", True)


@pytest.fixture()
def env(test_config, tmp_path):
    with stack(test_config, tmp_path) as s:
        for _, email, _active in (ALICE, BOB):
            s.cloud.site.add_user(email, email.split("@")[0])
        yield s


def deferred_until(cid: int) -> datetime | None:
    with extensions.db.session() as session:
        value = session.get(Connection, cid).deferred_until
    return value.replace(tzinfo=value.tzinfo or UTC) if value else None


def test_a_quota_spent_while_reading_defers_the_run_to_the_reset(env):
    cid = env.connection(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"]}))
    env.cloud.sandbox.quota.set(points_per_hour=1)  # the app's Connect JWT reads draw on it
    run = env.sync(cid)
    assert run.status == "deferred", (run.reason, run.error)
    assert "deferred until" in run.reason and "budget" in run.reason
    assert env.cloud.requests.writes() == []
    resume = deferred_until(cid)
    now = datetime.now(UTC)
    assert resume is not None and timedelta(minutes=58) < resume - now <= timedelta(hours=1)
    # the tick leaves it alone until the reset, then starts it
    assert cid not in [c for c, _, _ in due_connections(extensions.db, now)]
    assert cid in [c for c, _, _ in due_connections(extensions.db, resume + timedelta(seconds=1))]


def test_a_quota_429_in_the_middle_of_writes_keeps_what_was_done(env):
    cid = env.connection(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"],
                                                  "ops": ["u-alice"]}))
    # the third membership write meets the hourly quota (a Retry-After far beyond a burst)
    env.cloud.faults.inject("status", status=429, retry_after=3000, nth=3, path="/group/user")
    run = env.sync(cid)
    assert run.status == "deferred", (run.reason, run.error)
    outcomes = [c.outcome for c in env.changes(run.id)]
    assert "applied" in outcomes and "failed" in outcomes  # the op the quota refused
    assert deferred_until(cid) is not None
    env.cloud.faults.clear()
    again = env.sync(cid)
    assert again.status == "succeeded", (again.reason, again.error)
    assert env.members("eng") == {"alice@example.com", "bob@example.com"}
    assert env.members("ops") == {"alice@example.com"}
