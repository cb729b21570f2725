"""`usersync run`: the whole product on embedded defaults, one process per role, like the Procfile."""

from __future__ import annotations

import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

from honcho.manager import Manager

from app import config as app_config
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
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        env.setdefault("USERSYNC_INSTALL_KEYS_URL", f"{sandbox}/connect-install-keys/")
        env.setdefault("USERSYNC_ATLASSIAN_API_URL", sandbox)
        env.setdefault("USERSYNC_ATLASSIAN_AUTH_URL", sandbox)
        env["USERSYNC_ALLOW_PRIVATE_URLS"] = "true"
    return env


def sandbox_admin(instance_path: str) -> tuple[str, str]:
    """The sandbox site's admin and API token, kept in the instance folder across restarts."""
    path = Path(instance_path) / "sandbox-admin-token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return "admin@example.com", path.read_text().strip()


def commands(port: int, redis_url: str, sandbox_port: int | None,
             admin: tuple[str, str]) -> dict[str, str]:
    cmds = {
        "web": f"{BIN / 'gunicorn'} --bind 127.0.0.1:{port} --workers 2 --access-logfile - app.wsgi:application",
        "worker": f"{BIN / 'rq'} worker --url {redis_url} usersync",
        "clock": f"{BIN / 'rq'} cron --url {redis_url} {ROOT / 'workers' / 'cron.py'}",
    }
    if sandbox_port:
        cmds["sandbox"] = (f"{sys.executable} -m sandbox.atlassian --port {sandbox_port} "
                           f"--seed {ROOT / 'sandbox' / 'demo' / 'site.json'} "
                           f"--admin-email {admin[0]} --admin-token {admin[1]}")
    return cmds


def run(settings: dict[str, Any], port: int, sandbox_port: int | None) -> int:
    Path(settings["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings["DATABASE_URL"])
    # Keep the embedded server alive in this parent for as long as the children run.
    redis = redis_conn.connect(settings["REDIS_URL"], settings["INSTANCE_PATH"])
    redis_url = settings["REDIS_URL"] or redis_conn.url_of(redis)
    env = child_env(settings, redis_url, port, sandbox_port)
    # A later `usersync connections test` in another terminal must judge URLs as the worker does.
    app_config.record_network_rule(settings["INSTANCE_PATH"],
                                   app_config.as_bool(env.get("USERSYNC_ALLOW_PRIVATE_URLS", "")))
    admin = sandbox_admin(settings["INSTANCE_PATH"])
    manager = Manager()
    for name, cmd in commands(port, redis_url, sandbox_port, admin).items():
        manager.add_process(name, cmd, env=env, cwd=str(ROOT))
    print(f"User & Group Sync on http://localhost:{port}  (health: /healthz)", flush=True)
    if sandbox_port:
        demo_settings = dict(settings, REDIS_URL=redis_url, SECRET_KEYS=env["USERSYNC_SECRET_KEYS"].split(","))
        threading.Thread(target=_demo, daemon=True, name="demo", args=(
            demo_settings, f"http://localhost:{port}", f"http://127.0.0.1:{sandbox_port}", admin, redis)).start()
    manager.loop()
    return manager.returncode or 0


def _demo(settings: dict[str, Any], app_url: str, sandbox_url: str, admin: tuple[str, str],
          redis) -> None:  # type: ignore[no-untyped-def]
    """Install into the sandbox and sync the demo directory, then say how to look around."""
    from app import demo
    from workers.queue import enqueue_sync

    try:
        cid = demo.bootstrap(settings, app_url, sandbox_url, admin,
                             lambda c: enqueue_sync(redis, c, "manual"))
    except Exception as exc:  # the product still runs; the demo wiring is a convenience
        print(f"demo set-up failed: {exc}", flush=True)
        return
    print(f"Installed into the sandbox site {sandbox_url} (admin {admin[0]} / {admin[1]}).\n"
          f"Demo connection {cid} syncs sandbox/demo/directory.json every five minutes; "
          f"try: .venv/bin/usersync sync {cid} --dry-run --wait", flush=True)
