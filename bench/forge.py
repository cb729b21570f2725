"""Benchmark: the Forge scheduled trigger with many installations due at once, and Forge's
duplicated deliveries. Prints one JSON object.

    python bench/forge.py [--installations 200] [--connections 2] [--concurrency 8]
                          [--database-url postgresql+psycopg://…/db  (its tables are dropped)]

Each installation comes in through the sandbox Forge invoker's lifecycle and gets
`--connections` due connections. Then: (1) every installation's trigger is delivered once,
spread over `--window` seconds as Forge spreads triggers over installations, one in ten twice
at the same moment; (2) once workers have picked the syncs up, every trigger comes again (a
late duplicate); (3) all installations due at once, every trigger delivered twice together
(`--concurrency` in flight). Answer times are measured by the invoker (HTTP round trip to the
in-process app); jobs are counted on the RQ queue. Goals: p99 answer < 250 ms, one sync job
started per connection.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet  # noqa: E402
from rq import Queue  # noqa: E402
from sqlalchemy import text, update  # noqa: E402

from app import create_app, extensions, migrate, redis_conn  # noqa: E402
from app.connections import create as create_connection  # noqa: E402
from app.db import make_engine, normalise_url  # noqa: E402
from app.forge.schedule import DELIVERY_KEY  # noqa: E402
from app.models import Connection  # noqa: E402
from sandbox.atlassian.testing import running_site  # noqa: E402
from sandbox.forge.testing import running_invoker  # noqa: E402
from sandbox.live import LiveServer  # noqa: E402
from tests.engine.harness import LateApp  # noqa: E402
from workers.queue import WAITING_KEY, fetch_job, queues  # noqa: E402


def scratch(url: str) -> None:
    """Empty the scratch database so the migrations start from nothing."""
    engine = make_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def fire(invoker, plan: list[tuple[float, object, int]], concurrency: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Deliver each (at seconds, installation, times) and return the answer times (s)."""
    before = len(invoker.deliveries)
    started = time.monotonic()

    def one(item: tuple[float, object, int]) -> None:
        at, inst, times = item
        time.sleep(max(0.0, started + at - time.monotonic()))
        with ThreadPoolExecutor(times) as pair:  # a duplicate arrives at the same moment
            list(pair.map(lambda _: invoker.scheduled(inst), range(times)))

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, plan))
    return [d.seconds for d in invoker.deliveries[before:] if d.kind == "scheduledTrigger"]


def picked_up(redis, connection_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """What a worker does when it starts a sync: the job no longer waits to be joined."""
    for cid in connection_ids:
        redis.delete(WAITING_KEY.format(cid=cid))


def next_interval(redis) -> None:  # type: ignore[no-untyped-def]
    """Five minutes later: the last interval's delivery keys have long expired."""
    for key in redis.scan_iter(DELIVERY_KEY.format(installation="*")):
        redis.delete(key)


def queued_jobs(queue: list[Queue]) -> Counter:
    return Counter(job.args[0] for job in (fetch_job(q.connection, j) for q in queue for j in q.job_ids)
                   if job is not None)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installations", type=int, default=200)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--window", type=float, default=30.0,
                        help="seconds over which Forge's deliveries are spread (Forge: 300)")
    parser.add_argument("--database-url", help="a scratch database (default: a fresh SQLite file)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-forge-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    if args.database_url:
        scratch(url)
    migrate.upgrade(url)
    redis_server = redis_conn.embedded(str(tmp / "redis"))
    config = {"DATABASE_URL": url, "REDIS_URL": redis_conn.url_of(redis_server),
              "SECRET_KEYS": [Fernet.generate_key().decode()], "INSTANCE_PATH": str(tmp),
              "ALLOW_PRIVATE_URLS": True, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text"}
    (tmp / "people.json").write_text(json.dumps({"users": [], "groups": []}))
    late = LateApp()
    with running_site(validate=False) as cloud, LiveServer(late) as server, \
            running_invoker(server.url, retry_delay=0.01) as forge:
        config.update(BASE_URL=server.url, FORGE_JWKS_URL=forge.jwks_url, FORGE_APP_ID=forge.app_id)
        late.app = create_app(config)
        invoker = forge.invoker
        installs = [invoker.install(cloud.base_url, cloud.admin_auth)
                    for _ in range(args.installations)]
        connection_ids = []
        with extensions.db.session() as session:
            for inst in installs:
                for n in range(args.connections):
                    conn = create_connection(
                        session, client_key=inst.installation_id, kind="directory_file",
                        name=f"c{n}", settings={"path": str(tmp / "people.json")},
                        mapping={"schedule": "five_minutes"}, encrypt=extensions.secrets.encrypt)
                    session.flush()
                    connection_ids.append(conn.id)
        redis = extensions.redis(config)
        queue = queues(redis)
        for each in queue:
            each.empty()

        # 1. as Forge delivers: each installation at its own moment of the window, some twice
        rng = random.Random(5)
        spread = fire(invoker, [(i * args.window / len(installs), inst, 2 if rng.random() < 0.1 else 1)
                                for i, inst in enumerate(installs)], args.concurrency)
        # 2. the workers pick the jobs up (they stop waiting); then a late duplicate for every one
        picked_up(redis, connection_ids)
        late_dupes = fire(invoker, [(0.0, inst, 1) for inst in installs], args.concurrency)
        jobs = queued_jobs(queue)
        # 3. a burst: every installation due at the same moment, each trigger delivered twice
        with extensions.db.session() as session:
            session.execute(update(Connection).values(next_run_at=None))
        for each in queue:
            each.empty()
        picked_up(redis, connection_ids)
        next_interval(redis)
        burst = fire(invoker, [(0.0, inst, 2) for inst in installs], args.concurrency)
        burst_jobs = queued_jobs(queue)
        result = {
            "installations": args.installations, "connections": len(connection_ids),
            "server": f"werkzeug threaded, in-process, {make_engine(url).dialect.name}",
            "spread_window_s": args.window, "concurrency": args.concurrency,
            "trigger_p50_ms": ms(statistics.median(spread)), "trigger_p99_ms": ms(percentile(spread, 99)),
            "trigger_max_ms": ms(max(spread)), "goal_p99_ms": 250,
            "burst_p50_ms": ms(statistics.median(burst)), "burst_p99_ms": ms(percentile(burst, 99)),
            "deliveries": len(spread) + len(late_dupes) + len(burst),
            "non_2xx": sum(1 for d in invoker.deliveries
                           if d.kind == "scheduledTrigger" and not 200 <= d.status < 300),
            "jobs_started": sum(jobs.values()),
            "jobs_per_connection_max": max(jobs.values(), default=0),
            "connections_without_job": len(set(connection_ids) - set(jobs)),
            "burst_jobs_per_connection_max": max(burst_jobs.values(), default=0),
            "burst_connections_without_job": len(set(connection_ids) - set(burst_jobs)),
            "goal_jobs_per_connection": 1,
        }
    redis_server.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
