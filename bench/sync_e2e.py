"""Benchmark: a first sync of a directory file into the sandbox site under a write rate limit,
then a no-op resync. Prints one JSON object.

    python bench/sync_e2e.py [--scale 0.1] [--write-limit 100]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet  # noqa: E402

from app import migrate  # noqa: E402
from tests.engine.harness import stack  # noqa: E402

LENIENT = {"max_removal_percent": 100, "max_users_affected": 10**9}


def directory(users: int, groups: int, memberships: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    ids = [f"u{i}" for i in range(users)]
    per_group = max(1, memberships // max(groups, 1))
    return {
        "users": [{"id": uid, "email": f"{uid}@example.com", "display_name": uid} for uid in ids],
        "groups": [{"id": f"g{j}", "name": f"team-{j:05d}", "members": rng.sample(ids, min(per_group, users))}
                   for j in range(groups)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--write-limit", type=float, default=100.0, help="writes per second (R)")
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--burst-seconds", type=float, default=0.1,
                        help="bucket size in seconds of the limit (Atlassian allows a burst buffer)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    users, groups = int(10_000 * args.scale), max(1, int(1_000 * args.scale))
    memberships = int(50_000 * args.scale)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    from app import redis_conn

    redis = redis_conn.embedded(str(tmp / "redis"))
    config = {"DATABASE_URL": url, "REDIS_URL": redis_conn.url_of(redis),
              "SECRET_KEYS": [Fernet.generate_key().decode()], "INSTANCE_PATH": str(tmp),
              "ALLOW_PRIVATE_URLS": True, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text"}
    d = directory(users, groups, memberships)
    burst = max(1.0, args.write_limit * args.burst_seconds)
    with stack(config, tmp, validate=False, latency=args.latency,
               rate_limits={"write": (args.write_limit, burst)}) as env:
        for u in d["users"]:
            env.cloud.site.add_user(u["email"], u["display_name"])
        existing_groups = len(env.cloud.site.sorted_groups())
        cid = env.connection(d, {"policy": LENIENT})
        env.cloud.requests.clear()
        started = time.monotonic()
        first = env.sync(cid)
        elapsed = time.monotonic() - started
        log = env.cloud.requests.all()
        ok_writes = [r for r in log if r.is_write and 200 <= r.status < 300]
        write_span = (max(r.at for r in ok_writes) - min(r.at for r in ok_writes)) if len(ok_writes) > 1 else elapsed
        adds = sum(len(set(g["members"])) for g in d["groups"])
        # Writes, the site's group list, and one e-mail lookup per user in a synced group
        # (members of no mapped group are not synced, so never looked up).
        in_groups = len({m for g in d["groups"] for m in g["members"]})
        min_calls = groups + adds + math.ceil(existing_groups / 50) + in_groups
        env.cloud.requests.clear()
        second = env.sync(cid)
        noop_writes = len(env.cloud.requests.writes())
        result = {
            "users": users, "groups": groups, "memberships": adds,
            "status": first.status, "first_sync_s": round(elapsed, 2),
            "write_limit_per_s": args.write_limit, "writes": len(ok_writes),
            "write_rate_per_s": round(len(ok_writes) / write_span, 2) if write_span else None,
            "write_rate_ratio": round(len(ok_writes) / write_span / args.write_limit, 3) if write_span else None,
            "throttled_429": sum(1 for r in log if r.status == 429),
            "api_calls": len(log), "min_api_calls": min_calls,
            "noop_resync_status": second.status, "noop_resync_writes": noop_writes,
        }
    redis.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
