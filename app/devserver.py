"""`usersync run`: the whole product on embedded defaults, one process per role, like the Procfile."""

from __future__ import annotations

import os
import secrets
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

from honcho.manager import Manager

from app import config as app_config
from app import crypto, migrate, redis_conn

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def forge_port(sandbox_port: int) -> int:
    """The sandbox Forge invoker listens beside the sandbox site."""
    return sandbox_port + 1


def forge_app_id() -> str:
    """The manifest's app.id: what the sandbox invoker signs FITs for."""
    import yaml

    manifest = yaml.safe_load((ROOT / "manifest" / "manifest.yml").read_text(encoding="utf-8"))
    return str(manifest["app"]["id"])


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
        # the sandbox Forge invoker signs the FITs our Forge endpoints verify
        env.setdefault("USERSYNC_FORGE_JWKS_URL",
                       f"http://127.0.0.1:{forge_port(sandbox_port)}/.well-known/jwks.json")
        env.setdefault("USERSYNC_FORGE_APP_ID", forge_app_id())
    return env


def record_rule(settings: dict[str, Any], env: dict[str, str]) -> None:
    """A later `usersync connections test` in another terminal must judge URLs as the worker
    started here does: the instance folder remembers the rule the children were given."""
    app_config.record_network_rule(settings["INSTANCE_PATH"],
                                   app_config.as_bool(env.get("USERSYNC_ALLOW_PRIVATE_URLS", "")))


def sandbox_admin(instance_path: str) -> tuple[str, str]:
    """The sandbox site's admin and API token, kept in the instance folder across restarts."""
    path = Path(instance_path) / "sandbox-admin-token"
    if not path.exists():
        path.write_text(new_token())
        path.chmod(0o600)
    return "admin@example.com", path.read_text().strip()


def new_token() -> str:
    """A url-safe random token that never starts with `-` (which reads as an option flag)."""
    while True:
        token = secrets.token_urlsafe(24)
        if not token.startswith("-"):
            return token


def commands(port: int, redis_url: str, sandbox_port: int | None,
             admin: tuple[str, str]) -> dict[str, str]:
    cmds = {
        "web": f"{BIN / 'gunicorn'} --bind 127.0.0.1:{port} --workers 2 --access-logfile - "
                f"--logger-class app.access_log.ScrubbingLogger app.wsgi:application",
        "worker": f"{BIN / 'rq'} worker --url {redis_url} usersync",
        "clock": f"{BIN / 'rq'} cron --url {redis_url} {ROOT / 'workers' / 'cron.py'}",
    }
    if sandbox_port:
        cmds["sandbox"] = (f"{sys.executable} -m sandbox.atlassian --port {sandbox_port} "
                           f"--seed {ROOT / 'sandbox' / 'demo' / 'site.json'} "
                           f"--admin-email={shlex.quote(admin[0])} --admin-token={shlex.quote(admin[1])}")
        cmds["forge"] = (f"{sys.executable} -m sandbox.forge --port {forge_port(sandbox_port)} "
                         f"--remote http://localhost:{port} --schedule")
    return cmds


def run(settings: dict[str, Any], port: int, sandbox_port: int | None) -> int:
    Path(settings["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings["DATABASE_URL"])
    if sandbox_port:
        _forget_earlier_sandboxes(settings)
    # Keep the embedded server alive in this parent for as long as the children run.
    redis = redis_conn.connect(settings["REDIS_URL"], settings["INSTANCE_PATH"])
    redis_url = settings["REDIS_URL"] or redis_conn.url_of(redis)
    env = child_env(settings, redis_url, port, sandbox_port)
    record_rule(settings, env)
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


def _forget_earlier_sandboxes(settings: dict[str, Any]) -> None:
    """Before any worker starts: jobs left queued for a previous sandbox run must not retry."""
    from app import demo, extensions

    extensions.configure(settings)
    with extensions.db.session() as session:
        forgotten = demo.forget_earlier_sandboxes(session)
    if forgotten:
        print(f"{len(forgotten)} installation(s) of earlier sandbox runs marked uninstalled",
              flush=True)


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
    forge_note = _forge_install(sandbox_url, admin, cid)
    print(f"Installed into the sandbox site {sandbox_url} (admin {admin[0]} / {admin[1]}).\n"
          f"{forge_note}\n"
          f"Demo connection {cid} syncs sandbox/demo/directory.json every five minutes; "
          f"try: .venv/bin/usersync sync {cid} --dry-run --wait\n"
          f"Admin page as the sandbox admin: {app_url}/dev/admin", flush=True)


def _forge_install(sandbox_url: str, admin: tuple[str, str], connection_id: int) -> str:
    """Install the Forge app through the sandbox invoker too: it adopts the Connect install
    (as Atlassian's Connect-to-Forge path does) and fires its scheduled trigger every 5 min."""
    import requests

    from app import demo, extensions
    from app.models import Connection

    with extensions.db.session() as session:
        client_key = session.get(Connection, connection_id).installation.client_key
    port = int(sandbox_url.rsplit(":", 1)[1])
    invoker = f"http://127.0.0.1:{forge_port(port)}"
    try:
        demo.wait_until_up(invoker + "/.well-known/jwks.json")
        answer = requests.post(invoker + "/installations", timeout=60, json={
            "siteUrl": sandbox_url, "adminEmail": admin[0], "adminToken": admin[1],
            "connectClientKey": client_key})
        answer.raise_for_status()
    except (requests.RequestException, TimeoutError) as exc:
        return f"The Forge install through the sandbox invoker failed: {exc}"
    return (f"Installed through the sandbox Forge invoker ({invoker}) as well: Forge installation "
            f"{answer.json()['installationId']} adopted it; its scheduled trigger runs every 5 min.")
