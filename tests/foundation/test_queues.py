"""The three sync queues: which one a run goes to, coalescing across them, real workers taking
the fast ones first, and the per-site share of the Atlassian budget across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker

from app import extensions
from app.models import SyncRun
from tests.conftest import TEST_KEYS
from tests.engine.harness import directory, shared_redis_stack
from tests.engine.test_worker_e2e import wait_for
from workers import routing
from workers.queue import (
    BULK,
    INTERACTIVE,
    ORDINARY,
    QUEUES,
    UNHURRIED,
    WAITING_KEY,
    enqueue_sync,
    fetch_job,
    promote,
    queue,
    queued,
)
from workers.routing import RunHistory, select_queue

ROOT = Path(__file__).resolve().parents[2]
RQ = Path(sys.executable).parent / "rq"
LENIENT = {"max_removal_percent": 100, "max_users_affected": 100000}
NEW = RunHistory()
SMALL = RunHistory(first_sync_done=True, memberships=40)
BIG = RunHistory(first_sync_done=True, memberships=2_000_000)
PREVIEWED_SMALL = RunHistory(first_sync_done=False, memberships=40)
PREVIEWED_BIG = RunHistory(first_sync_done=False, memberships=2_000_000)


@pytest.mark.parametrize(("trigger", "history", "targeted", "expected"), [
    # a first sync of unknown size reads and writes everything, whoever asked for it
    ("manual", NEW, False, BULK),
    ("webhook", NEW, False, BULK),
    ("webhook", NEW, True, BULK),
    ("schedule", NEW, False, BULK),
    ("push", NEW, False, BULK),
    # a preview showed it small: the first sync is an ordinary run
    ("manual", PREVIEWED_SMALL, False, INTERACTIVE),
    ("schedule", PREVIEWED_SMALL, False, ORDINARY),
    ("manual", PREVIEWED_BIG, False, BULK),
    ("manual", PREVIEWED_BIG, True, BULK),
    # someone (or an IdP event) waits for these
    ("manual", SMALL, False, INTERACTIVE),
    ("webhook", SMALL, False, INTERACTIVE),
    ("push", SMALL, False, INTERACTIVE),
    ("schedule", SMALL, False, ORDINARY),
    ("schedule", SMALL, True, INTERACTIVE),
    # big connections: full runs are bulk, targeted ones cost what the event touches
    ("schedule", BIG, False, BULK),
    ("manual", BIG, False, BULK),
    ("webhook", BIG, False, BULK),
    ("webhook", BIG, True, INTERACTIVE),
    # a drift reconcile reads every managed group
    ("reconcile", SMALL, False, BULK),
    ("reconcile", BIG, True, BULK),
    # a trigger nobody named yet is ordinary work
    ("something-new", SMALL, False, ORDINARY),
])
def test_queue_selection(trigger, history, targeted, expected):
    assert select_queue(trigger, history, targeted=targeted) == expected


def test_the_size_threshold_is_inclusive_and_configurable():
    at = RunHistory(first_sync_done=True, memberships=100)
    assert select_queue("schedule", at, bulk_memberships=100) == BULK
    assert select_queue("schedule", at, bulk_memberships=101) == ORDINARY
    assert routing.select_approval_queue(99, bulk_memberships=100) == INTERACTIVE
    assert routing.select_approval_queue(100, bulk_memberships=100) == BULK


def test_priority_order_and_the_engine_agree():
    from workers.sync.engine import APPLIED_STATUSES

    assert QUEUES == (INTERACTIVE, ORDINARY, BULK) and BULK not in UNHURRIED
    assert set(routing.COMPLETED) == set(APPLIED_STATUSES)


@pytest.fixture()
def env(test_config, tmp_path):
    with shared_redis_stack(test_config, tmp_path) as s:
        yield s


def people(env, n: int, prefix: str) -> dict:
    users = [(f"{prefix}{i}", f"{prefix}{i}@example.com", True) for i in range(n)]
    for _, email, _ in users:
        env.cloud.site.add_user(email)
    return directory(users, {f"{prefix}-team": [u[0] for u in users]})


def add_run(cid: int, status: str, counts: dict, dry_run: bool = False) -> None:
    with extensions.db.session() as session:
        session.add(SyncRun(connection_id=cid, trigger="manual", dry_run=dry_run, status=status,
                            counts=counts))


def test_run_history_reads_the_runs(env):
    cid = env.connection(directory([], {}))
    assert routing.run_history(extensions.db, cid) == NEW
    add_run(cid, "preview", {"desired_memberships": 12}, dry_run=True)
    assert routing.run_history(extensions.db, cid) == RunHistory(False, 12)
    add_run(cid, "failed", {})  # failed before planning: says nothing about the size
    assert routing.run_history(extensions.db, cid) == RunHistory(False, 12)
    add_run(cid, "held", {"desired_memberships": 70_000})
    assert routing.run_history(extensions.db, cid) == RunHistory(False, 70_000)
    add_run(cid, "succeeded", {"desired_memberships": 30})
    assert routing.run_history(extensions.db, cid) == RunHistory(True, 30)
    add_run(cid, "running", {"desired_memberships": 9})  # not finished planning: not yet news
    assert routing.run_history(extensions.db, cid) == RunHistory(True, 30)
    other = env.connection(directory([], {}), name="other.json")
    add_run(other, "succeeded", {"desired_memberships": 80_000})
    # the tick reads every due connection's history at once: the same answers
    assert routing.run_histories(extensions.db, [cid, other, other]) == {
        cid: RunHistory(True, 30), other: RunHistory(True, 80_000)}


def test_a_waiting_job_moves_to_a_faster_queue_and_is_never_doubled(env):
    cid = env.connection(directory([], {}))
    add_run(cid, "succeeded", {"desired_memberships": 10})
    job_id = enqueue_sync(env.redis, cid, "schedule")
    assert queue(env.redis, ORDINARY).job_ids == [job_id]
    assert enqueue_sync(env.redis, cid, "webhook") == job_id, "joined the waiting job"
    assert queue(env.redis, INTERACTIVE).job_ids == [job_id] and queued(env.redis) == 1
    assert fetch_job(env.redis, job_id).origin == INTERACTIVE
    assert enqueue_sync(env.redis, cid, "schedule") == job_id
    assert queue(env.redis, INTERACTIVE).job_ids == [job_id], "a slower trigger never demotes"
    assert queued(env.redis) == 1
    # a worker took it (it waits for the run lock, still holding the waiting key): nothing moves
    queue(env.redis, INTERACTIVE).pop_job_id()
    assert not promote(env.redis, job_id, INTERACTIVE)
    assert enqueue_sync(env.redis, cid, "manual") == job_id and queued(env.redis) == 0
    # a preview is its own job, never merged
    env.redis.delete(WAITING_KEY.format(cid=cid))
    assert enqueue_sync(env.redis, cid, "manual", dry_run=True) != job_id


def test_an_event_that_names_people_queues_ahead_of_bulk_work_on_a_big_connection(env):
    cid = env.connection(directory([], {}))
    add_run(cid, "succeeded", {"desired_memberships": 10**7})
    whole = enqueue_sync(env.redis, cid, "webhook")
    assert queue(env.redis, BULK).job_ids == [whole], "an event naming nothing reads everything"
    env.redis.delete(WAITING_KEY.format(cid=cid))
    named = enqueue_sync(env.redis, cid, "webhook", targeted=True)
    assert queue(env.redis, INTERACTIVE).job_ids == [named]


def worker(env, *queues: str, burst: bool = False) -> subprocess.Popen:
    base = env.cloud.base_url
    proc_env = dict(os.environ, DATABASE_URL=extensions.db.url, USERSYNC_SECRET_KEYS=",".join(TEST_KEYS),
                    REDIS_URL=env.redis_url, USERSYNC_ALLOW_PRIVATE_URLS="true",
                    USERSYNC_ATLASSIAN_API_URL=base, USERSYNC_ATLASSIAN_AUTH_URL=base,
                    USERSYNC_LOG_FORMAT="text", USERSYNC_LOG_LEVEL="WARNING")
    extra = ["--burst"] if burst else []
    return subprocess.Popen([str(RQ), "worker", "-w", "workers.worker.SyncWorker",
                             "--url", env.redis_url, *extra, *queues],
                            env=proc_env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def run_of(job_id: str) -> SyncRun | None:
    with extensions.db.session() as session:
        return session.query(SyncRun).filter(SyncRun.job_id == job_id).first()


def small_synced(env, prefix: str) -> int:
    cid = env.connection(people(env, 3, prefix), {"policy": LENIENT}, name=f"{prefix}.json")
    assert env.sync(cid).status == "succeeded"
    return cid


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_one_worker_takes_the_fast_queue_before_the_bulk_one(env):
    first = env.connection(people(env, 5, "new"), {"policy": LENIENT}, name="new.json")
    cid = small_synced(env, "old")
    bulk = enqueue_sync(env.redis, first, "manual")
    targeted = enqueue_sync(env.redis, cid, "webhook")  # enqueued after the bulk job
    assert fetch_job(env.redis, bulk).origin == BULK
    assert fetch_job(env.redis, targeted).origin == INTERACTIVE
    assert worker(env, *QUEUES, burst=True).wait(timeout=120) == 0
    assert run_of(targeted).started_at < run_of(bulk).started_at
    assert {run_of(bulk).status, run_of(targeted).status} == {"succeeded"}


def test_a_targeted_run_starts_on_a_free_worker_while_a_bulk_run_executes(env):
    env.cloud.set_latency(0.1)
    big = env.connection(people(env, 120, "big"), {"policy": LENIENT}, name="big.json")
    later = env.connection(people(env, 5, "later"), {"policy": LENIENT}, name="later.json")
    small = small_synced(env, "small")
    full, light = worker(env, *QUEUES), worker(env, *UNHURRIED)
    try:
        wait_for(lambda: len(Worker.all(connection=env.redis)) == 2, 60)
        running = enqueue_sync(env.redis, big, "manual")
        wait_for(lambda: (r := run_of(running)) is not None and r.status == "running", 60)
        next_bulk = enqueue_sync(env.redis, later, "manual")
        targeted = enqueue_sync(env.redis, small, "webhook")
        done = wait_for(lambda: (r := run_of(targeted)) is not None and r.finished_at and r, 60)
        assert done.status == "succeeded"
        bulk_run = run_of(running)
        assert bulk_run.finished_at is None or done.started_at < bulk_run.finished_at, \
            "the targeted run did not wait for the bulk run"
        assert run_of(next_bulk) is None, "the next bulk job waits: the free worker takes no bulk"
        assert fetch_job(env.redis, targeted).worker_name != fetch_job(env.redis, running).worker_name
        wait_for(lambda: (r := run_of(next_bulk)) is not None and r.finished_at, 120)
        assert run_of(next_bulk).started_at > done.started_at
    finally:
        stop(full, light)


TAKER = textwrap.dedent("""
    import sys, time
    from redis import Redis
    from workers.atlassian.budget import AppBudget
    from workers.atlassian.errors import QuotaExhaustedError
    url, tenant, limit, share = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    redis = Redis.from_url(url)
    budget = AppBudget(redis, tenant, limit, share)
    redis.incr("budget-test:ready")
    while not redis.exists("budget-test:go"):
        time.sleep(0.01)
    taken = refused = 0
    while refused < 20:
        try:
            budget.take("read")
            taken += 1
        except QuotaExhaustedError:
            refused += 1
    print(taken)
""")


def test_a_sites_share_holds_across_processes(redis_url):
    redis = Redis.from_url(redis_url)
    for key in [*redis.scan_iter("usersync:atlassian-budget:*"), "budget-test:go",
                "budget-test:ready"]:
        redis.delete(key)
    limit, share = 2000, 0.25

    def taker(tenant: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", TAKER, redis_url, tenant, str(limit),
                                 str(share)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTHONPATH=str(ROOT)))

    # two workers syncing the same big site at once, and one worker for another site
    procs = [taker("big-site"), taker("big-site"), taker("other-site")]
    wait_for(lambda: int(redis.get("budget-test:ready") or 0) == len(procs), 60)
    redis.set("budget-test:go", "1", ex=60)
    counts = [int(p.communicate(timeout=120)[0].strip()) for p in procs]
    assert counts[0] + counts[1] == limit * share, "the big site's two processes took its share"
    assert counts[0] > 0 and counts[1] > 0, "both processes drew on the one shared count"
    assert counts[2] == limit * share, "the other site kept its whole share"


def test_one_schedule_tick_at_a_time(env):
    from workers import schedule

    cid = env.connection(directory([], {}), {"schedule": "hour"})
    env.redis.set(schedule.TICK_KEY, "another worker's tick", ex=60)
    assert schedule.tick(extensions.db, env.redis) == 0, "a tick is running elsewhere"
    assert queued(env.redis) == 0
    env.redis.delete(schedule.TICK_KEY)
    assert schedule.tick(extensions.db, env.redis) == 1
    assert env.redis.get(schedule.TICK_KEY) is None, "released when done"
    assert fetch_job(env.redis, env.redis.get(WAITING_KEY.format(cid=cid)).decode()).origin == BULK
