"""Benchmark: many tenants on many workers. 200 connections over 4 `rq worker` processes, one
connection mid-way through a first sync of 1,000,000 memberships; how long the others' targeted
runs and due schedules wait to start. Prints one JSON object.

    python bench/tenants.py [--scale 0.1] [--connections 200] [--workers 4] [--unhurried 1]

Real parts: PostgreSQL (database `bench_tenants`, recreated), Redis db 9 (flushed), the
Procfile's `rq worker -w workers.worker.SyncWorker` and `rq cron workers/cron.py` processes,
sandbox Atlassian sites as their own processes (one for the big tenant, `--sites` for the
others), the app's Connect install over HTTP. Goals: targeted trigger → run start p95 < 30 s,
every due schedule started within 60 s of being due.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from redis import Redis  # noqa: E402
from sqlalchemy import select, text, update  # noqa: E402

from app import create_app, demo, extensions, migrate  # noqa: E402
from app.connections import create as create_connection  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.models import Connection, Installation, SyncRun  # noqa: E402
from app.models.credential import CredentialKind  # noqa: E402
from sandbox.live import LiveServer  # noqa: E402
from tests.engine.harness import LateApp  # noqa: E402
from workers.atlassian.credentials import save_credential  # noqa: E402
from workers.queue import QUEUES, UNHURRIED, enqueue_sync, fetch_job  # noqa: E402
from workers.worker import BULK_NICENESS  # noqa: E402

BIN = Path(sys.executable).parent
DATABASE = "postgresql://postgres@127.0.0.1:5432/bench_tenants"
REDIS = "redis://127.0.0.1:6379/9"
ADMIN = ("admin@example.com", "bench-admin-token")
LENIENT = {"max_removal_percent": 100, "max_users_affected": 10**9}
PER_SMALL = 5  # users (and memberships per group) of each small tenant's directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database() -> None:
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "bench_tenants"],
                   capture_output=True, check=False)  # exists already: fine, emptied below
    engine = make_engine(DATABASE)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    migrate.upgrade(DATABASE)


def spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A child process in the repository, its output in `log` (the child keeps the file open)."""
    with open(log, "w") as out:
        # its own process group: stopping it stops the job processes a worker forked too
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop every child and whatever it forked (a bulk job's process outlives a killed worker,
    and rq starts it in a session of its own, out of reach of the worker's process group)."""
    forked = _descendants({proc.pid for proc in procs})
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        for pid in forked:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))


def _descendants(roots: set[int]) -> set[int]:
    """The processes below `roots`, from /proc (empty where there is none)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # the command may hold spaces and parentheses: the fields after its last ')'
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, todo = set(), set(roots)
    while todo:
        children = {pid for pid, ppid in parents.items() if ppid in todo} - found
        found |= children
        todo = children
    return found


def start_site(users: int, logs: Path, name: str, nice: int = 0) -> tuple[str, subprocess.Popen]:
    """A sandbox site process. The big tenant's is niced like its bulk run: on a real deployment
    Atlassian's machines serve it, and its load is not on the workers' CPU."""
    port = free_port()
    proc = spawn(["nice", "-n", str(nice), sys.executable, "-m", "sandbox.atlassian", "--port", str(port),
                  "--users", str(users), "--no-validate", "--no-auto-webhooks",
                  "--admin-email", ADMIN[0], "--admin-token", ADMIN[1]], logs / f"{name}.log")
    return f"http://127.0.0.1:{port}", proc


def install(app, app_url: str, site_url: str) -> int:
    """Install through the site's plugin manager, as an admin does; the API token writes."""
    demo.wait_until_up(site_url + "/rest/plugins/1.0/", timeout=300)
    app.config["INSTALL_KEYS_URL"] = site_url + "/connect-install-keys/"  # each site its own keys
    demo.install(site_url, app_url + "/atlassian-connect.json", ADMIN)
    with extensions.db.session() as session:
        iid = session.scalars(select(Installation.id).where(
            Installation.base_url == site_url)).one()
    save_credential(extensions.db, iid, CredentialKind.API_TOKEN,
                    {"email": ADMIN[0], "api_token": ADMIN[1]}, extensions.secrets.encrypt)
    return iid


def user(i: int) -> dict:
    # the sandbox's generated users are user000000@example.com, user000001@example.com, …
    return {"id": f"u{i}", "email": f"user{i:06d}@example.com", "display_name": f"User {i:06d}"}


def big_directory(users: int, groups: int, memberships: int) -> dict:
    rng = random.Random(7)
    ids = [f"u{i}" for i in range(users)]
    per_group = max(1, min(users, memberships // groups))
    return {"users": [user(i) for i in range(users)],
            "groups": [{"id": f"g{j}", "name": f"team-{j:05d}", "members": rng.sample(ids, per_group)}
                       for j in range(groups)]}


def small_directory(k: int) -> dict:
    """The k-th tenant on its site: its own PER_SMALL users, in two groups of its own."""
    first = k * PER_SMALL
    people = [user(i) for i in range(first, first + PER_SMALL)]
    ids = [p["id"] for p in people]
    return {"users": people, "groups": [{"id": f"t{k}-a", "name": f"tenant-{k}-all", "members": ids},
                                        {"id": f"t{k}-b", "name": f"tenant-{k}-lead", "members": ids[:2]}]}


def add_connection(client_key: str, path: Path, directory: dict, name: str) -> int:
    path.write_text(json.dumps(directory))
    with extensions.db.session() as session:
        conn = create_connection(session, client_key=client_key, kind="directory_file", name=name,
                                 settings={"path": str(path)},
                                 mapping={"schedule": "manual", "policy": LENIENT},
                                 encrypt=extensions.secrets.encrypt)
        return conn.id


def worker_env(keys: str, points: int) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=DATABASE, REDIS_URL=REDIS, USERSYNC_SECRET_KEYS=keys,
                USERSYNC_ALLOW_PRIVATE_URLS="true", USERSYNC_LOG_LEVEL="WARNING",
                USERSYNC_LOG_FORMAT="text", PYTHONPATH=str(ROOT),
                USERSYNC_ATLASSIAN_POINTS_PER_HOUR=str(points))


def start_workers(count: int, unhurried: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    procs = []
    for n in range(count):
        queues = UNHURRIED if n < unhurried else QUEUES
        procs.append(spawn([str(BIN / "rq"), "worker", "-w", "workers.worker.SyncWorker",
                            "--url", REDIS, "--name", f"bench-{n}", *queues],
                           logs / f"worker-{n}.log", env))
    procs.append(spawn([str(BIN / "rq"), "cron", "--url", REDIS, "workers/cron.py"],
                       logs / "clock.log", env))
    return procs


def runs_since(cids: list[int], after_id: int) -> dict[int, SyncRun]:
    """The first run of each connection after run id `after_id`."""
    with extensions.db.session() as session:
        rows = session.scalars(select(SyncRun).where(SyncRun.connection_id.in_(cids),
                                                     SyncRun.id > after_id).order_by(SyncRun.id))
        first: dict[int, SyncRun] = {}
        for run in rows:
            first.setdefault(run.connection_id, run)
        return first


def last_run_id() -> int:
    with extensions.db.session() as session:
        return session.scalar(select(SyncRun.id).order_by(SyncRun.id.desc()).limit(1)) or 0


def wait_finished(cids: list[int], after_id: int, timeout: float) -> dict[int, SyncRun]:
    deadline = time.monotonic() + timeout
    while True:
        found = runs_since(cids, after_id)
        if len(found) == len(cids) and all(r.finished_at for r in found.values()):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sum(1 for r in found.values() if r.finished_at)} of {len(cids)} "
                               f"runs finished in {timeout:.0f} s")
        time.sleep(0.5)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(delays: list[float]) -> dict[str, float]:
    return {"n": len(delays), "p50_s": round(percentile(delays, 0.5), 2),
            "p95_s": round(percentile(delays, 0.95), 2), "max_s": round(max(delays), 2)}


def bulk_state(run_id: int) -> dict:
    with extensions.db.session() as session:
        run = session.get(SyncRun, run_id)
        return {"status": run.status, "ops_done": run.ops_done, "ops_total": run.ops_total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="of the big tenant's directory")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--unhurried", type=int, default=1, help="workers that never take bulk work")
    parser.add_argument("--sites", type=int, default=4, help="sandbox sites the small tenants share")
    parser.add_argument("--spread", type=float, default=120.0, help="seconds over which the "
                        "second round of targeted triggers arrives (the first: all at once; 0: skip)")
    parser.add_argument("--schedule-spread", type=float, default=300.0, help="seconds over "
                        "which the second round of schedules falls due (the first: at once; 0: skip)")
    parser.add_argument("--points-per-hour", type=int, default=0,
                        help="the app's Atlassian budget (0: off; reads draw points, API-token writes none)")
    parser.add_argument("--bulk-warmup", type=float, default=60, help="seconds the big first "
                        "sync runs (unless it writes sooner) before the others are triggered")
    parser.add_argument("--bulk-wait", type=float, default=1800,
                        help="most seconds to wait for the big first sync to start")
    args = parser.parse_args()
    users, groups = int(100_000 * args.scale), max(1, int(1_000 * args.scale))
    memberships = int(1_000_000 * args.scale)
    small = args.connections - 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    logs = tmp / "logs"
    logs.mkdir()
    fresh_database()
    redis = Redis.from_url(REDIS)
    redis.flushdb()
    keys = Fernet.generate_key().decode()
    procs: list[subprocess.Popen] = []
    try:
        big_url, proc = start_site(users, logs, "site-big", nice=BULK_NICENESS)
        procs.append(proc)
        per_site = -(-small // args.sites)
        small_sites = []
        for s in range(args.sites):
            url, proc = start_site(per_site * PER_SMALL, logs, f"site-{s}")
            procs.append(proc)
            small_sites.append(url)
        config = {"DATABASE_URL": DATABASE, "REDIS_URL": REDIS, "SECRET_KEYS": [keys],
                  "INSTANCE_PATH": str(tmp / "instance"), "ALLOW_PRIVATE_URLS": True,
                  "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text"}
        late = LateApp()  # the app needs its URL in its config before it can be built
        with LiveServer(late) as server:
            config["BASE_URL"] = server.url
            late.app = create_app(config)
            result = run(args, late.app, server.url, big_url, small_sites, per_site, small,
                         (users, groups, memberships), tmp, keys, logs, procs, redis)
    finally:
        stop(procs)
    print(json.dumps(result))


def run(args, app, app_url, big_url, small_sites, per_site, small, size, tmp, keys, logs,  # type: ignore[no-untyped-def]
        procs, redis) -> dict:
    users, groups, memberships = size
    started = time.monotonic()
    big_key = _client_key(install(app, app_url, big_url))
    site_keys = [_client_key(install(app, app_url, url)) for url in small_sites]
    cids = [add_connection(site_keys[k // per_site], tmp / f"small-{k}.json",
                           small_directory(k % per_site), f"tenant {k}") for k in range(small)]
    big = add_connection(big_key, tmp / "big.json", big_directory(users, groups, memberships), "big")
    procs.extend(start_workers(args.workers, args.unhurried, worker_env(keys, args.points_per_hour), logs))
    setup_s = time.monotonic() - started

    # 1. every small tenant's first sync (bulk: nothing is known of its size yet)
    mark, t0 = last_run_id(), time.monotonic()
    for cid in cids:
        enqueue_sync(redis, cid, "manual", db=extensions.db)
    firsts = wait_finished(cids, mark, 900)
    first_syncs = {"seconds": round(time.monotonic() - t0, 1),
                   "statuses": sorted({r.status for r in firsts.values()})}

    # 2. the big tenant's first sync, until it writes or has run --bulk-warmup seconds
    mark, t0 = last_run_id(), time.monotonic()
    job = enqueue_sync(redis, big, "manual", db=extensions.db)
    bulk_run = None
    while time.monotonic() - t0 < args.bulk_wait:
        found = runs_since([big], mark).get(big)
        if found is not None:
            bulk_run = found.id
            state = bulk_state(bulk_run)
            if state["ops_done"] > 0 or state["status"] != "running" or \
                    time.monotonic() - t0 >= args.bulk_warmup:
                break
        time.sleep(1)
    if bulk_run is None:
        raise SystemExit(f"the big first sync ({job}) did not start in {args.bulk_wait:.0f} s")
    bulk_at_trigger = {**bulk_state(bulk_run), "seconds_in": round(time.monotonic() - t0, 1)}

    # 3. a targeted trigger (an IdP webhook) for every other tenant: all at once, then spread
    burst = targeted(redis, cids, 0.0)
    spread = targeted(redis, cids, args.spread) if args.spread else None

    # 4. every small tenant's schedule falls due at one moment, then due times spread as
    #    five-minute schedules are; the clock's tick starts them
    at_once = schedules(cids, 0.0)
    spread_due = schedules(cids, args.schedule_spread) if args.schedule_spread else None
    bulk_after = bulk_state(bulk_run)
    return {
        "connections": small + 1, "workers": args.workers, "unhurried_workers": args.unhurried,
        "sites": len(small_sites) + 1, "database": "postgresql", "redis": "redis db 9",
        "scale": args.scale, "big_tenant": {"users": users, "groups": groups,
                                            "memberships": memberships},
        "setup_s": round(setup_s, 1), "small_first_syncs": first_syncs,
        "bulk_run_at_trigger": bulk_at_trigger, "bulk_run_after": bulk_after,
        "targeted_all_at_once": burst, "targeted_spread": spread,
        "schedules_due_at_once": at_once, "schedules_due_spread": spread_due,
        "goals": {"targeted_p95_under_30s": {"all_at_once": burst["p95_s"] < 30,
                                             "spread": spread["p95_s"] < 30 if spread else None},
                  "every_schedule_within_60s": {
                      "due_at_once": at_once["max_s"] <= 60,
                      "spread": spread_due["max_s"] <= 60 if spread_due else None},
                  "bulk_still_running": bulk_after["status"] == "running"},
        "points_per_hour": args.points_per_hour, "logs": str(logs),
    }


def targeted(redis: Redis, cids: list[int], spread: float) -> dict:
    """A webhook trigger for each connection, evenly over `spread` seconds; trigger → run start."""
    mark, spread_from = last_run_id(), time.monotonic()
    fired: dict[int, datetime] = {}
    jobs = []
    for n, cid in enumerate(cids):
        time.sleep(max(0.0, spread_from + spread * n / max(1, len(cids) - 1) - time.monotonic()))
        fired[cid] = datetime.now(UTC)
        jobs.append(enqueue_sync(redis, cid, "webhook", db=extensions.db))
    origins = {job.origin for job in map(lambda j: fetch_job(redis, j), jobs) if job is not None}
    runs = wait_finished(cids, mark, 1800)
    delays = [(aware(runs[c].started_at) - fired[c]).total_seconds() for c in cids]
    return {**summary(delays), "spread_s": spread, "queues": sorted(origins),
            "statuses": sorted({r.status for r in runs.values()})}


def schedules(cids: list[int], spread: float) -> dict:
    """Make each connection's five-minute schedule due, evenly over `spread` seconds from now;
    due → run start, as the clock's tick and the workers deliver it."""
    mark, base = last_run_id(), datetime.now(UTC) + timedelta(seconds=2)
    due = {cid: base + timedelta(seconds=spread * n / max(1, len(cids) - 1))
           for n, cid in enumerate(cids)}
    with extensions.db.session() as session:
        for cid, moment in due.items():
            session.execute(update(Connection).where(Connection.id == cid)
                            .values(schedule="five_minutes", next_run_at=moment))
    runs = wait_finished(cids, mark, 1800)
    delays = [(aware(runs[c].started_at) - due[c]).total_seconds() for c in cids]
    return {**summary(delays), "spread_s": spread,
            "within_60s": sum(1 for d in delays if d <= 60),
            "statuses": sorted({r.status for r in runs.values()})}


def _client_key(installation_id: int) -> str:
    with extensions.db.session() as session:
        return session.get(Installation, installation_id).client_key


if __name__ == "__main__":
    main()
