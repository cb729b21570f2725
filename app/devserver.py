"""`usersync run`: the whole product on embedded defaults, one process per role, like the Procfile."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from honcho.manager import Manager

from app import crypto, migrate, redis_conn

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def child_env(settings: dict[str, Any], redis_url: str, port: int,
              sandbox_port: int | None) -> dict[str, str]:
    """The environment every child process shares: same database, Redis, keys and base URL."""
    env = dict(os.environ)
    keys = settings["SECRET_KEYS"] or crypto.embedded_keys(settings["INSTANCE_PATH"])
    env.update({
        "DATABASE_URL": settings["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "USERSYNC_SECRET_KEYS": ",".join(keys),
        "USERSYNC_INSTANCE_PATH": settings["INSTANCE_PATH"],
        "USERSYNC_BASE_URL": os.environ.get("USERSYNC_BASE_URL", f"http://localhost:{port}"),
        "PYTHONUNBUFFERED": "1",
    })
    if sandbox_port:
        # The sandbox site plays Atlassian on loopback, so private URLs must be allowed.
        env.setdefault("USERSYNC_INSTALL_KEYS_URL",
                       f"http://127.0.0.1:{sandbox_port}/connect-install-keys/")
        env["USERSYNC_ALLOW_PRIVATE_URLS"] = "true"
    return env


def commands(port: int, redis_url: str, sandbox_port: int | None) -> dict[str, str]:
    cmds = {
        "web": f"{BIN / 'gunicorn'} --bind 127.0.0.1:{port} --workers 2 --access-logfile - app.wsgi:application",
        "worker": f"{BIN / 'rq'} worker --url {redis_url} --serializer json usersync",
        "clock": f"{BIN / 'rq'} cron --url {redis_url} --serializer json {ROOT / 'workers' / 'cron.py'}",
    }
    if sandbox_port:
        cmds["sandbox"] = (f"{sys.executable} -m sandbox.atlassian --port {sandbox_port} "
                           f"--install-app http://127.0.0.1:{port}/atlassian-connect.json")
    return cmds


def run(settings: dict[str, Any], port: int, sandbox_port: int | None) -> int:
    Path(settings["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings["DATABASE_URL"])
    # Keep the embedded server alive in this parent for as long as the children run.
    redis = redis_conn.connect(settings["REDIS_URL"], settings["INSTANCE_PATH"])
    redis_url = settings["REDIS_URL"] or redis_conn.url_of(redis)
    env = child_env(settings, redis_url, port, sandbox_port)
    manager = Manager()
    for name, cmd in commands(port, redis_url, sandbox_port).items():
        manager.add_process(name, cmd, env=env, cwd=str(ROOT))
    print(f"User & Group Sync on http://localhost:{port}  (health: /healthz)", flush=True)
    if sandbox_port:
        print(f"Sandbox Atlassian site on http://127.0.0.1:{sandbox_port}", flush=True)
    manager.loop()
    return manager.returncode or 0
