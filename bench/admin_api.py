"""Admin API latency on PostgreSQL with 100 connections and 1,000,000 change rows; prints JSON.

    .venv/bin/python bench/admin_api.py [--database-url URL] [--changes 1000000] [--requests 200]

Seeds one installed site (the sandbox, installed over the signed lifecycle) with 100
connections, 10 runs each and the change rows spread over those runs (COPY on PostgreSQL),
then times, through the Flask app with a real context token and the site's admin check:
`overview_p95_ms` (GET /api/admin/overview), `changes_page_p95_ms` (GET
/api/admin/runs/{id}/changes, random runs, random keyset positions), the same filtered by
outcome, and a connection's run history. Goal: p95 < 100 ms. The database named by
--database-url is emptied first (default: a `bench_admin` database on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.fernet import Fernet
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app, migrate  # noqa: E402
from app.admin import paging  # noqa: E402
from app.db import make_engine, normalise_url  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Connection, Installation, SyncRun  # noqa: E402
from sandbox.atlassian.testing import running_site  # noqa: E402
from sandbox.live import LiveServer  # noqa: E402
from workers.atlassian.auth import AtlassianHosts  # noqa: E402
from workers.atlassian.factory import ClientSettings  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_admin"
CONNECTIONS, RUNS_PER_CONNECTION = 100, 10
KINDS = ("add_member", "remove_member", "create_group", "link_user", "invite_user")


class LateApp:
    app = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.app(environ, start_response)


def reset(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    migrate.upgrade(url)


def seed(installation_id: int, changes: int) -> list[int]:
    """Connections, runs and change rows as the engine would have written them; run ids."""
    now = datetime.now(UTC)
    with db.session() as session:
        conn_ids = [session.execute(insert(Connection).returning(Connection.id).values(
            installation_id=installation_id, name=f"IdP {i}", kind="directory_file",
            enabled=True, settings={"content": "{}"}, mapping_mode="on_the_fly", mapping={},
            filters={}, default_groups=[], deprovision="remove_from_groups", policy={},
            schedule="hour", pending_changes=False, created_at=now, updated_at=now)).scalar_one()
            for i in range(CONNECTIONS)]
        run_ids = []
        for cid in conn_ids:
            for r in range(RUNS_PER_CONNECTION):
                started = now - timedelta(hours=RUNS_PER_CONNECTION - r)
                run_ids.append(session.execute(insert(SyncRun).returning(SyncRun.id).values(
                    connection_id=cid, trigger="schedule", dry_run=False, status="succeeded",
                    counts={"applied": 990, "failed": 10}, ops_total=1000, ops_done=1000,
                    started_at=started, finished_at=started + timedelta(minutes=1))).scalar_one())
    per_run = changes // len(run_ids)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = "run_id, seq, kind, group_id, group_name, account_id, email, outcome, message, at"
        if db.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY change ({columns}) FROM STDIN") as copy:
                for run_id in run_ids:
                    for seq in range(per_run):
                        failed = seq % 100 == 0
                        copy.write_row((run_id, seq, KINDS[seq % len(KINDS)], f"g{seq % 50}",
                                        f"group-{seq % 50}", f"acc-{seq}", f"user{seq}@example.com",
                                        "failed" if failed else "applied",
                                        "refused" if failed else None, now))
        else:
            rows = [(run_id, seq, KINDS[seq % len(KINDS)], f"g{seq % 50}", f"group-{seq % 50}",
                     f"acc-{seq}", f"user{seq}@example.com",
                     "failed" if seq % 100 == 0 else "applied", None, now.isoformat())
                    for run_id in run_ids for seq in range(per_run)]
            cursor.executemany(f"INSERT INTO change ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        raw.commit()
        if db.engine.dialect.name == "postgresql":
            cursor.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()
    return run_ids


def p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[-1], 2)


CPU: dict[str, list[float]] = {}
"""Per path kind: this thread's CPU milliseconds per request (the app's own work, which the
shared machine's load stretches far less than the wall-clock figures)."""


def timed(client, path: str, headers: dict[str, str], count: int, paths=None) -> list[float]:  # type: ignore[no-untyped-def]
    samples, cpu = [], CPU.setdefault(path or "paged", [])
    for i in range(count):
        target = paths(i) if paths else path
        started, started_cpu = time.perf_counter(), time.thread_time()
        response = client.get(target, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{target} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    url = normalise_url(args.database_url)
    reset(url)
    late = LateApp()
    with tempfile.TemporaryDirectory() as tmp, running_site(validate=False) as cloud, \
            LiveServer(late) as server:
        late.app = app = create_app({
            "DATABASE_URL": url, "SECRET_KEYS": [Fernet.generate_key().decode()],
            "BASE_URL": server.url, "INSTANCE_PATH": tmp, "LOG_LEVEL": "WARNING",
            "INSTALL_KEYS_URL": cloud.base_url + "/connect-install-keys/",
            "ALLOW_PRIVATE_URLS": True,
            "ATLASSIAN_CLIENT": ClientSettings(app_key="com.example.usersync", allow_private=True,
                                               hosts=AtlassianHosts(cloud.base_url, cloud.base_url))})
        installed = cloud.install_app(server.url + "/atlassian-connect.json")
        with db.session() as session:
            iid = session.scalars(select(Installation.id).where(
                Installation.client_key == installed.client_key)).one()
        started = time.perf_counter()
        run_ids = seed(iid, args.changes)
        seed_s = time.perf_counter() - started
        now = int(time.time())
        token = jwt.encode({"iss": installed.client_key, "sub": cloud.admin_account_id,
                            "qsh": "context-qsh", "iat": now, "exp": now + 900},
                           installed.shared_secret, algorithm="HS256")
        headers = {"Authorization": f"JWT {token}"}
        client = app.test_client()
        with db.session() as session:
            bounds = {r: session.execute(text("SELECT min(id), max(id) FROM change WHERE run_id = :r"),
                                         {"r": r}).one() for r in run_ids}
            total = session.execute(text("SELECT count(*) FROM change")).scalar_one()
            first_conn = session.scalars(select(Connection.id).order_by(Connection.id)).first()
        rng = random.Random(7)

        def page(i: int, outcome: str = "") -> str:
            run = rng.choice(run_ids)
            low, high = bounds[run]
            at = rng.randint(low, high)
            cursor = "" if i % 10 == 0 else f"&cursor={paging.encode(at)}"
            return f"/api/admin/runs/{run}/changes?limit=50{cursor}{outcome}"

        timed(client, "/api/admin/overview", headers, 5)  # warm-up: admin check, caches
        overview = timed(client, "/api/admin/overview", headers, args.requests)
        changes = timed(client, "", headers, args.requests, paths=page)
        failed = timed(client, "", headers, args.requests, paths=lambda i: page(i, "&outcome=failed"))
        history = timed(client, f"/api/admin/connections/{first_conn}/runs", headers, args.requests)
    print(json.dumps({
        "database": db.engine.dialect.name, "connections": CONNECTIONS, "runs": len(run_ids),
        "changes": total, "seed_s": round(seed_s, 1), "requests_each": args.requests,
        "overview_p95_ms": p95(overview), "overview_median_ms": round(statistics.median(overview), 2),
        "changes_page_p95_ms": p95(changes),
        "changes_page_median_ms": round(statistics.median(changes), 2),
        "changes_page_failed_only_p95_ms": p95(failed),
        "run_history_p95_ms": p95(history), "goal_p95_ms": 100,
        "overview_app_cpu_median_ms": round(statistics.median(CPU["/api/admin/overview"][5:]), 2),
        "changes_page_app_cpu_median_ms": round(statistics.median(CPU["paged"]), 2),
        # The machine's 1-minute load average at the end: timings on a shared host stretch with it.
        "load_average_1m": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count(),
        # Filled by the admin page's build and browser measurements (app/admin/ui/).
        "bundle_js_gzip_kb": None, "page_usable_ms": None,
    }, indent=2))


if __name__ == "__main__":
    main()
