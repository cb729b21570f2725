"""SCIM server under IdP-like load: POST users and PATCH group members over 8 connections; prints JSON.

    .venv/bin/python bench/scim.py [--scale 0.1] [--server live|gunicorn] [--clients 8]

Full scale: 10,000 users and 1,000 groups (30,000 memberships) stored first, then 2,000
requests (half POST /Users, half PATCH /Groups adding a member) from `--clients` concurrent
keep-alive connections. `groups_page_ms`: GET /Groups?count=100 with members (Okta expects
< 600 ms); `groups_page_no_members_ms` with excludedAttributes=members (what Entra asks).
Uses DATABASE_URL / REDIS_URL when set, else a temporary SQLite file and embedded Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app, migrate, redis_conn  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Connection, Installation  # noqa: E402
from app.models.installation import utcnow  # noqa: E402
from app.models.scim import ScimGroup, ScimMember, ScimUser, ScimUserEmail  # noqa: E402
from app.scim import tokens  # noqa: E402
from sandbox.live import LiveServer  # noqa: E402

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def seed(connection_id: int, users: int, groups: int, memberships: int) -> tuple[list, list]:
    """Stored state as the server would have written it, inserted in bulk (setup, not measured)."""
    now = utcnow()
    user_rows = []
    for i in range(users):
        name = f"user{i:06d}@example.com"
        user_rows.append({"scim_id": str(uuid.uuid4()), "connection_id": connection_id,
                          "user_name": name, "user_name_key": name, "external_id": f"ext-{i}",
                          "display_name": f"User {i}", "active": True, "version": 1,
                          "created_at": now, "last_modified": now, "document": {
                              "userName": name, "displayName": f"User {i}", "active": True,
                              "externalId": f"ext-{i}",
                              "emails": [{"value": name, "type": "work", "primary": True}]}})
    group_rows = [{"scim_id": str(uuid.uuid4()), "connection_id": connection_id,
                   "display_name": f"Group {g}", "display_name_key": f"group {g}",
                   "document": {"displayName": f"Group {g}"}, "version": 1, "created_at": now,
                   "last_modified": now} for g in range(groups)]
    with db.session() as session:
        session.execute(insert(ScimUser), user_rows)
        session.execute(insert(ScimGroup), group_rows)
        user_pks = session.execute(select(ScimUser.pk, ScimUser.scim_id).where(
            ScimUser.connection_id == connection_id)).all()
        group_pks = session.execute(select(ScimGroup.pk, ScimGroup.scim_id).where(
            ScimGroup.connection_id == connection_id)).all()
        session.execute(insert(ScimUserEmail), [
            {"user_pk": pk, "value": f"user{i:06d}@example.com",
             "value_key": f"user{i:06d}@example.com", "type": "work", "primary": True}
            for i, (pk, _) in enumerate(user_pks)])
        rng = random.Random(7)
        pairs = {(rng.choice(group_pks)[0], rng.choice(user_pks)[0]) for _ in range(memberships)}
        session.execute(insert(ScimMember), [{"group_pk": g, "user_pk": u, "child_pk": None}
                                             for g, u in pairs])
    return [s for _, s in user_pks], [s for _, s in group_pks]


def connection_with_token() -> tokens.IssuedToken:
    with db.session() as session:
        installation = Installation(client_key=f"bench-{uuid.uuid4()}", product_type="jira",
                                    base_url="https://bench.atlassian.net",
                                    shared_secret_encrypted="-")
        session.add(installation)
        session.flush()
        connection = Connection(installation_id=installation.id, name="bench", kind="scim_push",
                                settings={}, mapping={}, filters={}, default_groups=[], policy={})
        session.add(connection)
        session.flush()
        return tokens.create(session, connection.id)


@contextmanager
def serving(kind: str, config: dict[str, Any]):
    """The app on a loopback port: in-process werkzeug, or gunicorn (2 workers × 4 threads)."""
    if kind == "live":
        app = create_app(config)
        with LiveServer(app) as server:
            app.config["BASE_URL"] = server.url
            yield server.url
        return
    port = LiveServer(lambda *_: None).port  # a free port, released at once
    env = {**os.environ, "DATABASE_URL": config["DATABASE_URL"], "REDIS_URL": config["REDIS_URL"],
           "USERSYNC_SECRET_KEYS": config["SECRET_KEYS"][0],
           "USERSYNC_INSTANCE_PATH": config["INSTANCE_PATH"], "USERSYNC_LOG_LEVEL": "WARNING",
           "USERSYNC_BASE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-w", "2",
                                "--threads", "4", "-b", f"127.0.0.1:{port}",
                                "app.wsgi:application"], env=env, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"http://127.0.0.1:{port}/scim/v2/x/Users")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(url: str) -> None:
    for _ in range(300):
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def load(base: str, secret: str, user_ids: list, group_ids: list, requests_total: int,
         clients: int) -> tuple[list[float], int, float]:
    """(latencies in s, failures, wall time) of the mixed POST/PATCH run."""
    rng = random.Random(11)
    work = [("post", None, None) if i % 2 == 0 else
            ("patch", rng.choice(group_ids), rng.choice(user_ids)) for i in range(requests_total)]
    chunks = [work[i::clients] for i in range(clients)]

    def run(chunk: list) -> tuple[list[float], int]:
        http = requests.Session()
        http.headers.update({"Authorization": f"Bearer {secret}",
                             "Content-Type": "application/scim+json"})
        latencies, failures = [], 0
        for kind, group_id, user_id in chunk:
            started = time.perf_counter()
            if kind == "post":
                response = http.post(f"{base}/Users", json={
                    "userName": f"{uuid.uuid4()}@example.com", "active": True,
                    "name": {"givenName": "New", "familyName": "User"}})
                failures += response.status_code != 201
            else:
                response = http.patch(f"{base}/Groups/{group_id}", json={
                    "schemas": [PATCH], "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": user_id}]}]})
                failures += response.status_code != 204
            latencies.append(time.perf_counter() - started)
        return latencies, failures

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(run, chunks))
    wall = time.perf_counter() - started
    return [x for lat, _ in results for x in lat], sum(f for _, f in results), wall


def timed_get(url: str, secret: str, repeats: int = 5) -> float:
    """Best of `repeats` (ms): the steady-state cost, not the first request's warm-up."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {secret}"
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        assert http.get(url, timeout=30).status_code == 200
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--server", choices=("live", "gunicorn"), default="live")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    users, groups = int(10000 * args.scale), max(int(1000 * args.scale), 1)
    memberships, requests_total = int(30000 * args.scale), max(int(2000 * args.scale), 16)
    tmp = tempfile.mkdtemp(prefix="scim-bench-")
    database = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    embedded = None if os.environ.get("REDIS_URL") else redis_conn.embedded(tmp)
    config = {"DATABASE_URL": database, "SECRET_KEYS": [Fernet.generate_key().decode()],
              "REDIS_URL": os.environ.get("REDIS_URL") or redis_conn.url_of(embedded),
              "INSTANCE_PATH": tmp, "BASE_URL": "http://127.0.0.1"}
    migrate.upgrade(database)
    create_app(config)  # binds the database for the seeding below
    issued = connection_with_token()
    started = time.perf_counter()
    user_ids, group_ids = seed(issued.id and _connection_of(issued), users, groups, memberships)
    seeded_s = time.perf_counter() - started
    with serving(args.server, config) as root:
        base = root + issued.base_path
        latencies, failures, wall = load(base, issued.secret, user_ids, group_ids,
                                         requests_total, args.clients)
        page_ms = timed_get(f"{base}/Groups?count=100", issued.secret)
        lean_ms = timed_get(f"{base}/Groups?count=100&excludedAttributes=members", issued.secret)
        lookup_ms = timed_get(f'{base}/Users?filter=userName eq "USER{users // 2:06d}@EXAMPLE.COM"',
                              issued.secret)
    if embedded is not None:
        embedded.shutdown()
    ordered = sorted(latencies)
    print(json.dumps({
        "server": args.server, "clients": args.clients, "users": users, "groups": groups,
        "memberships": memberships, "requests": len(latencies), "failures": failures,
        "seed_s": round(seeded_s, 2), "req_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
        "groups_page_ms": round(page_ms, 1), "groups_page_no_members_ms": round(lean_ms, 1),
        "user_lookup_ms": round(lookup_ms, 1),
        "database": database.split(":", 1)[0]}))


def _connection_of(issued: tokens.IssuedToken) -> int:
    from app.models.scim import ScimToken

    with db.session() as session:
        return session.scalar(select(ScimToken.connection_id).where(ScimToken.id == issued.id))


if __name__ == "__main__":
    main()
