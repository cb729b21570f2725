"""Membership adds against a rate-limited sandbox site: our client versus a naive sequential run.

Prints one JSON object. `--scale 0.1` runs 500 adds instead of 5,000.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any

import requests
from atlassian import Jira

from sandbox.atlassian.testing import SiteHandle, running_site
from workers.atlassian.auth import api_token_auth
from workers.atlassian.http import Transport
from workers.atlassian.memberships import MembershipOp
from workers.atlassian.site import Access, AtlassianSite

GROUPS = 10


def prepare(cloud: SiteHandle, ops: int, limit: float, latency: float) -> list[MembershipOp]:
    """Users and groups to add them to; then the write limit and the latency are switched on."""
    groups = [cloud.site.add_group(f"bench-{j}").group_id for j in range(GROUPS)]
    users = [cloud.site.add_user(f"bench{i:06d}@example.com").account_id
             for i in range(-(-ops // GROUPS))]
    pairs = [(g, u) for u in users for g in groups][:ops]
    # first request loads the spec index; keep it out of the timing
    requests.get(cloud.base_url + "/rest/api/3/group/bulk", auth=cloud.admin_auth, timeout=30)
    cloud.limits.set(write=(limit, limit))  # burst: one second's worth
    cloud.set_latency(latency)
    cloud.requests.clear()
    return [MembershipOp("add", g, u) for g, u in pairs]


def figures(cloud: SiteHandle, done: int, failed: int, elapsed: float, limit: float,
            retries: int) -> dict[str, Any]:
    duplicates = sum(n - 1 for (_, path, _, _), n in cloud.requests.duplicate_writes()
                     if path != "/oauth/token")
    rate = done / elapsed if elapsed else 0.0
    return {"ops": done + failed, "seconds": round(elapsed, 2), "ops_per_s": round(rate, 2),
            "limit_per_s": limit, "ratio": round(rate / limit, 3), "retries": retries,
            "failed_ops": failed, "duplicate_writes": duplicates,
            "http_429": sum(1 for r in cloud.requests.writes() if r.status == 429)}


def run_client(ops: int, limit: float, latency: float, concurrency: int) -> dict[str, Any]:
    with running_site(validate=False) as cloud:
        work = prepare(cloud, ops, limit, latency)
        transport = Transport(allow_private=True)
        access = Access(cloud.base_url, api_token_auth(*cloud.admin_auth), "site-admin API token")
        site = AtlassianSite("jira", transport, access, access, concurrency=concurrency)
        started = time.monotonic()
        results = site.apply_memberships(work)
        elapsed = time.monotonic() - started
        done = sum(r.ok for r in results)
        return {**figures(cloud, done, len(results) - done, elapsed, limit, transport.retries),
                "concurrency": concurrency}


def run_naive(ops: int, limit: float, latency: float) -> dict[str, Any]:
    """Sequential calls through atlassian-python-api, no backoff: what a script would do."""
    with running_site(validate=False) as cloud:
        work = prepare(cloud, ops, limit, latency)
        jira = Jira(url=cloud.base_url, username=cloud.admin_email,
                    password=cloud.admin_api_token, cloud=True)
        done = failed = 0
        started = time.monotonic()
        for op in work:
            try:
                jira.post("rest/api/3/group/user", params={"groupId": op.group_id},
                          data={"accountId": op.account_id})
                done += 1
            except requests.HTTPError:
                failed += 1
        elapsed = time.monotonic() - started
        return figures(cloud, done, failed, elapsed, limit, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 5,000 adds")
    parser.add_argument("--limit", type=float, default=20.0, help="write limit, requests/s")
    parser.add_argument("--latency", type=float, default=0.05, help="sandbox latency, seconds")
    parser.add_argument("--concurrency", type=int, default=6)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the sandbox server logs every request
    ops = max(1, int(5000 * args.scale))
    result = run_client(ops, args.limit, args.latency, args.concurrency)
    result["baseline"] = run_naive(ops, args.limit, args.latency)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
