"""Benchmark of the sandbox Atlassian site over HTTP: full directory read and write rate; prints JSON.

    .venv/bin/python bench/atlassian_sandbox.py [--scale 0.1] [--no-validate] [--workers 4]

Full scale: 20,000 users, 2,000 groups, 200,000 memberships. `read_s`: page every group
(Jira group/bulk) and every group's members (group/member, 50 a page) with a site-admin API
token, 4 groups at a time. `writes_per_s`: add-member calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.atlassian.testing import running_site  # noqa: E402


def page_all(session: requests.Session, url: str, params: dict) -> tuple[list, int]:
    values, calls, start = [], 0, 0
    while True:
        body = session.get(url, params={**params, "startAt": start}).json()
        calls += 1
        values += body["values"]
        if body["isLast"]:
            return values, calls
        start += len(body["values"])


def read_directory(cloud, session: requests.Session, workers: int) -> tuple[list, int, int]:
    """Every group, then every group's members, the way a first sync reads the site."""
    groups, calls = page_all(session, cloud.url("/rest/api/3/group/bulk"), {})
    with ThreadPoolExecutor(workers) as pool:
        pages = list(pool.map(lambda g: page_all(
            session, cloud.url("/rest/api/3/group/member"),
            {"groupId": g["groupId"], "includeInactiveUsers": "true"}), groups))
    return groups, sum(len(v) for v, _ in pages), calls + sum(c for _, c in pages)


def add_members(cloud, session: requests.Session, group_id: str, count: int) -> int:
    members = cloud.site.group(group_id).members
    ids = [u for u in list(cloud.site.users)[:count] if u not in members]
    for account_id in ids:
        session.post(cloud.url("/rest/api/3/group/user"), params={"groupId": group_id},
                     json={"accountId": account_id})
    return len(ids)


def run(scale: float, validate: bool, workers: int) -> dict:
    users, groups, memberships = int(20000 * scale), int(2000 * scale), int(200000 * scale)
    started = time.perf_counter()
    with running_site(users=users, groups=groups, memberships=memberships,
                      validate=validate) as cloud, requests.Session() as session:
        seeded = time.perf_counter() - started
        session.auth = cloud.admin_auth
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=workers))
        t0 = time.perf_counter()
        all_groups, read_members, calls = read_directory(cloud, session, workers)
        read_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        writes = add_members(cloud, session, all_groups[-1]["groupId"], 200)
        write_s = time.perf_counter() - t1
        violations = len(cloud.violations)
    return {"scale": scale, "validate": validate, "users": users, "groups": len(all_groups),
            "memberships_read": read_members, "read_calls": calls, "seed_s": round(seeded, 3),
            "read_s": round(read_s, 3), "calls_per_s": round(calls / read_s, 1),
            "writes": writes, "writes_per_s": round(writes / write_s, 1),
            "violations": violations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--no-validate", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(run(args.scale, not args.no_validate, args.workers)))


if __name__ == "__main__":
    main()
