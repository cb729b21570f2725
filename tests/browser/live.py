"""The admin page's whole stack for browser tests and the page benchmark: sandbox site, our app
over HTTP with the built bundle, an `rq worker` process, and headless Debian Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from redis import Redis

from app import extensions
from tests.engine.harness import Stack, stack
from workers.queue import QUEUES

ROOT = Path(__file__).resolve().parents[2]
RQ = Path(sys.executable).parent / "rq"
CHROMIUM = Path(os.environ.get("USERSYNC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""Debian's Chromium, quiet: no GPU, no network of its own (updates, sync, QUIC probes)."""
AXE = ROOT / "app" / "admin" / "ui" / "node_modules" / "axe-core" / "axe.min.js"
IFRAME = {"width": 800, "height": 900}
"""Roughly the width Jira gives an app's admin page iframe."""


def build_page() -> None:
    """The bundle as `python3 dev.py run|test` builds it (npm ci + vite, only when sources changed)."""
    sys.path.insert(0, str(ROOT))
    import dev

    dev.ensure_admin_page()


def worker(s: Stack, redis_url: str) -> subprocess.Popen:
    """A real `rq worker` on the app's queue, reaching the sandbox site like production would."""
    env = dict(os.environ, DATABASE_URL=extensions.db.url, REDIS_URL=redis_url,
               USERSYNC_SECRET_KEYS=",".join(s.secret_keys), USERSYNC_ALLOW_PRIVATE_URLS="true",
               USERSYNC_ATLASSIAN_API_URL=s.cloud.base_url, USERSYNC_ATLASSIAN_AUTH_URL=s.cloud.base_url,
               USERSYNC_LOG_FORMAT="text", USERSYNC_LOG_LEVEL="WARNING")
    return subprocess.Popen([str(RQ), "worker", "--url", redis_url, *QUEUES], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def admin_stack(test_config: dict[str, Any], tmp: Path) -> Iterator[Stack]:
    """The engine harness's stack plus a worker process; `page_url` opens the page as the site admin."""
    with stack(test_config, tmp) as s:
        Redis.from_url(test_config["REDIS_URL"]).flushdb()
        s.secret_keys = test_config["SECRET_KEYS"]
        proc = worker(s, test_config["REDIS_URL"])
        s.page_url = f"{s.app_url}/dev/admin?client_key={s.client_key}"
        try:
            yield s
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def chromium() -> Iterator[Any]:
    """Playwright driving Debian's Chromium through its executable path (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def context_token(s: Stack, account_id: str) -> str:
    """A Connect context JWT for `account_id`, as Jira hands the page (HS256, shared secret)."""
    import time

    import jwt
    from sqlalchemy import select

    from app.models import Installation

    with extensions.db.session() as session:
        inst = session.scalars(select(Installation).where(Installation.id == s.installation_id)).one()
        secret = extensions.secrets.decrypt(inst.shared_secret_encrypted)
    now = int(time.time())
    return jwt.encode({"iss": s.client_key, "sub": account_id, "qsh": "context-qsh", "iat": now,
                       "exp": now + 900, "aud": s.client_key}, secret, algorithm="HS256")


def connect_all_js(token: str) -> str:
    """Jira's side of all.js for a page outside Jira: the real script asks the parent frame over
    postMessage; here AP.context.getToken answers the token Jira would, and counts the calls."""
    return ("window.__tokenCalls = 0; window.AP = {context: {getToken: function (cb) {"
            f" window.__tokenCalls += 1; var t = {token!r}; if (cb) cb(t); return Promise.resolve(t);"
            " }}};")
