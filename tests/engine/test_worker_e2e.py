"""With a real `rq worker` process and Redis: sync, coalescing, a worker killed mid-run, schedule."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import select

from app import extensions
from app.models import SyncRun
from tests.conftest import TEST_KEYS
from tests.engine.harness import directory, stack
from workers import schedule
from workers.queue import INTERACTIVE, QUEUES, enqueue_sync, queue, queued

RQ = Path(sys.executable).parent / "rq"
LENIENT = {"max_removal_percent": 100, "max_users_affected": 100000}


@pytest.fixture()
def env(test_config, tmp_path):
    with stack(test_config, tmp_path) as s:
        s.redis = Redis.from_url(test_config["REDIS_URL"])
        s.redis.flushdb()
        yield s


def worker(env, *extra: str) -> subprocess.Popen:
    cfg = env.cloud.base_url
    proc_env = dict(os.environ, DATABASE_URL=extensions.db.url, USERSYNC_SECRET_KEYS=",".join(TEST_KEYS),
                    REDIS_URL=env.redis_url, USERSYNC_ALLOW_PRIVATE_URLS="true",
                    USERSYNC_ATLASSIAN_API_URL=cfg, USERSYNC_ATLASSIAN_AUTH_URL=cfg,
                    USERSYNC_SYNC_LOCK_TTL="3", USERSYNC_LOG_FORMAT="text")
    return subprocess.Popen([str(RQ), "worker", "--url", env.redis_url,
                             *extra, *QUEUES], env=proc_env, cwd=Path(__file__).resolve().parents[2],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` and its children (found through /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    for victim in [pid, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def runs(cid: int) -> list[SyncRun]:
    with extensions.db.session() as session:
        return list(session.scalars(select(SyncRun).where(SyncRun.connection_id == cid).order_by(SyncRun.id)))


def wait_for(predicate, timeout: float = 60.0, step: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


def population(env, n: int, groups: int) -> dict:
    users = [(f"u{i}", f"user{i}@example.com", True) for i in range(n)]
    for _, email, _ in users:
        env.cloud.site.add_user(email)
    return directory(users, {f"team-{g}": [u[0] for u in users[g::groups]] for g in range(groups)})


def test_worker_runs_a_sync_and_triggers_coalesce(env, test_config):
    env.redis_url = test_config["REDIS_URL"]
    cid = env.connection(population(env, 20, 2), {"policy": LENIENT})
    job_ids = {enqueue_sync(env.redis, cid, "webhook") for _ in range(100)}
    assert len(job_ids) == 1, "100 triggers with no worker running become one waiting job"
    assert queued(env.redis) == 1
    proc = worker(env, "--burst")
    assert proc.wait(timeout=120) == 0
    done = runs(cid)
    assert [r.status for r in done] == ["succeeded"]
    assert len(env.members("team-0")) == 10
    # After it ran, a new trigger makes a new job.
    assert enqueue_sync(env.redis, cid, "manual") not in job_ids


def test_killed_worker_then_rerun_converges_without_duplicate_writes(env, test_config):
    env.redis_url = test_config["REDIS_URL"]
    env.cloud.set_latency(0.02)
    cid = env.connection(population(env, 150, 3), {"policy": LENIENT})
    proc = worker(env)
    try:
        enqueue_sync(env.redis, cid, "manual")
        wait_for(lambda: len(env.cloud.requests.matching("POST", "/group/user")) >= 30, 90)
        # The worker runs jobs in a forked work horse (its own process group): kill both at
        # once, as a machine loss or an OOM kill of the container would.
        kill_tree(proc.pid)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = runs(cid)
    assert killed[-1].status == "running", "the killed run never finished"
    second = worker(env, "--burst")
    enqueue_sync(env.redis, cid, "manual")
    assert second.wait(timeout=180) == 0
    interrupted, final = runs(cid)[-2:]
    assert interrupted.status == "failed" and "interrupted" in interrupted.error
    assert final.status == "succeeded", (final.reason, final.error)
    assert sum(len(env.members(f"team-{g}")) for g in range(3)) == 150
    assert env.cloud.requests.duplicate_writes() == []


def test_schedule_tick_enqueues_due_and_pushed_connections(env, test_config):
    from datetime import UTC, datetime, timedelta

    from app.models import Connection

    env.redis_url = test_config["REDIS_URL"]
    due = env.connection(directory([], {}), {"schedule": "hour"})
    later = env.connection(directory([], {}), {"schedule": "day"}, name="other.json")
    manual = env.connection(directory([], {}), {"schedule": "manual"}, name="third.json")
    now = datetime.now(UTC)
    with extensions.db.session() as session:
        session.get(Connection, later).next_run_at = now + timedelta(hours=3)
        session.get(Connection, manual).pending_changes = True
    assert schedule.tick(extensions.db, env.redis, now) == 2
    with extensions.db.session() as session:
        nxt = session.get(Connection, due).next_run_at
        assert nxt.replace(tzinfo=UTC) == now + timedelta(hours=1)
    assert schedule.tick(extensions.db, env.redis, now) == 1, "only the pushed one is still due"
    assert queued(env.redis) == 2, "the repeated trigger joined the waiting job"


def sync_with_worker(env, cid: int) -> SyncRun:
    """Trigger a sync and let a burst worker process run it, as production does."""
    job_id = enqueue_sync(env.redis, cid, "manual")
    assert worker(env, "--burst").wait(timeout=120) == 0
    with extensions.db.session() as session:
        return session.scalars(select(SyncRun).where(SyncRun.job_id == job_id)).one()


def test_idp_changes_and_an_approved_hold_through_the_worker(env, test_config):
    from workers.queue import enqueue_approval

    env.redis_url = test_config["REDIS_URL"]
    people = [("u1", "ann@example.com", True), ("u2", "ben@example.com", True),
              ("u3", "cat@example.com", True)]
    for _, email, _ in people:
        env.cloud.site.add_user(email)
    d = directory(people, {"eng": ["u1", "u2"], "ops": ["u3"]})
    cid = env.connection(d)
    assert sync_with_worker(env, cid).status == "succeeded"
    assert sync_with_worker(env, cid).ops_total == 0, "no-op resync"
    # join, leave, e-mail change, disable, rename: two removals of five memberships → held
    d = directory([("u1", "ann.new@example.com", True), people[1], ("u3", "cat@example.com", False)],
                  {"eng": ["u1"], "ops": ["u2"]})
    d["groups"][1]["name"] = "operations"
    env.write_directory(d)
    held = sync_with_worker(env, cid)
    assert held.status == "held", held.reason
    enqueue_approval(env.redis, held.id, cid, "it-admin")
    assert worker(env, "--burst").wait(timeout=120) == 0
    assert env.run(held.id).status == "succeeded"
    assert env.members("eng") == {"ann@example.com"}
    assert env.members("ops") == {"ben@example.com"}
    assert "operations" not in env.group_names()
    # re-enable: cat gets exactly what the IdP says
    d["users"][2]["active"] = True
    d["groups"][0]["members"].append("u3")
    env.write_directory(d)
    assert sync_with_worker(env, cid).status == "succeeded"
    assert env.members("eng") == {"ann@example.com", "cat@example.com"}
    assert env.cloud.requests.duplicate_writes() == []


def test_a_scoped_job_records_its_scope_and_runs_whole_without_targeted_reads(env, test_config):
    """The webhook contract: sync_connection(id, "webhook", False, scope) through a real worker;
    a directory file cannot read one user, so the run reads the file and plans as usual."""
    env.redis_url = test_config["REDIS_URL"]
    cid = env.connection(directory([("u-ann", "ann@example.com", True)], {"eng": ["u-ann"]}))
    env.cloud.site.add_user("ann@example.com", "Ann")
    scope = {"users": ["u-ann"], "groups": []}
    queue(env.redis, INTERACTIVE).enqueue("workers.jobs.sync_connection", cid, "webhook", False, scope)
    assert worker(env, "--burst").wait(timeout=120) == 0
    with extensions.db.session() as session:
        run = session.scalars(select(SyncRun).where(SyncRun.connection_id == cid)).one()
        assert (run.status, run.trigger, run.scope) == ("succeeded", "webhook", scope)
        assert run.counts["fetch"] == "full"
    assert env.members("eng") == {"ann@example.com"}
