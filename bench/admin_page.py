"""Benchmark of the admin page: gzipped size of its JavaScript and time until it is usable in
headless Chromium on localhost. Prints one JSON object; `bench/admin_api.py` includes it.

    python bench/admin_page.py [--loads 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIST = Path(__file__).resolve().parents[1] / "app" / "admin" / "ui" / "dist"
JS_GOAL_KB = 350
USABLE_GOAL_MS = 1500


def js_gzip_kb(dist: Path = DIST) -> float:
    """Every JavaScript file the build emits, each gzipped (level 9), summed in KiB."""
    return round(sum(len(gzip.compress(p.read_bytes(), 9)) for p in dist.rglob("*.js")) / 1024, 1)


def usable_ms(loads: int) -> dict[str, float]:
    """Cold loads (fresh browser context, no cache) of the overview with one connection and a run:
    from navigation until its table of connections is on screen."""
    from cryptography.fernet import Fernet

    from app import migrate, redis_conn
    from tests.browser.live import IFRAME, admin_stack, chromium
    from tests.engine.harness import directory

    tmp = Path(tempfile.mkdtemp(prefix="bench-admin-page-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    redis = redis_conn.embedded(str(tmp / "redis"))
    config: dict[str, Any] = {"DATABASE_URL": url, "REDIS_URL": redis_conn.url_of(redis),
                              "SECRET_KEYS": [Fernet.generate_key().decode()], "INSTANCE_PATH": str(tmp),
                              "ALLOW_PRIVATE_URLS": True, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text"}
    times: list[float] = []
    try:
        with admin_stack(config, tmp) as s, chromium() as browser:
            people = [(f"u{i}", f"user{i}@example.com", True) for i in range(20)]
            for _, email, _ in people:
                s.cloud.site.add_user(email)
            s.sync(s.connection(directory(people, {"team": [p[0] for p in people]})))
            for _ in range(loads + 1):
                context = browser.new_context(viewport=IFRAME)
                page = context.new_page()
                start = time.perf_counter()
                page.goto(s.page_url, wait_until="commit")
                page.get_by_role("button", name="HR file").wait_for(timeout=30_000)
                times.append((time.perf_counter() - start) * 1000)
                context.close()
    finally:
        redis.shutdown()
    times = times[1:]  # the first load also warms the app server's imports
    return {"median": round(statistics.median(times), 1), "max": round(max(times), 1)}


def figures(loads: int = 5) -> dict[str, Any]:
    """The page's two figures (the keys bench/admin_api.py prints), with their goals."""
    import dev

    dev.ensure_admin_page()
    usable = usable_ms(loads)
    return {
        "bundle_js_gzip_kb": js_gzip_kb(), "bundle_js_gzip_goal_kb": JS_GOAL_KB,
        "page_usable_ms": usable["median"], "page_usable_max_ms": usable["max"],
        "page_usable_goal_ms": USABLE_GOAL_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(json.dumps(figures(args.loads), indent=2))


if __name__ == "__main__":
    main()
