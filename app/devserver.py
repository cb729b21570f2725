"""`usersync run`: the whole product on embedded defaults, one process per role, like the Procfile."""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from honcho.manager import Manager

from app import config as app_config
from app import crypto, migrate, redis_conn
from app.run_console import LogFiles, Progress, RunWatcher
from workers.flags import flag
from workers.routing import QUEUES

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OAUTH_CLIENT_ID = "usersync-sandbox"


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
                                   flag(env.get("USERSYNC_ALLOW_PRIVATE_URLS", "")))


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


def idp_port(sandbox_port: int) -> int:
    """The sandbox SCIM IdP listens beside the Forge invoker."""
    return sandbox_port + 2


@dataclass
class Options:
    """How `usersync run` shows itself and how far it goes."""

    verbose: bool = False
    once: bool = False
    fresh: bool = False
    people: int = 300
    forge: bool = False


def sandbox_secrets(instance_path: str) -> dict[str, str]:
    """The sandbox OAuth app's secret and the sandbox IdP's token, kept across restarts."""
    return {name: _kept_token(Path(instance_path) / f"sandbox-{name}")
            for name in ("oauth-secret", "idp-token")}


def _kept_token(path: Path) -> str:
    if not path.exists():
        path.write_text(new_token())
        path.chmod(0o600)
    return path.read_text().strip()


def oauth_env(port: int, instance_path: str) -> dict[str, str]:
    """The app's OAuth 2.0 (3LO) client as registered with the sandbox's authorization server."""
    base = os.environ.get("USERSYNC_BASE_URL", f"http://localhost:{port}")
    return {"USERSYNC_OAUTH_CLIENT_ID": OAUTH_CLIENT_ID,
            "USERSYNC_OAUTH_CLIENT_SECRET": sandbox_secrets(instance_path)["oauth-secret"],
            "USERSYNC_OAUTH_REDIRECT_URI": f"{base}/admin/oauth/callback"}


def commands(port: int, redis_url: str, sandbox_port: int | None,
             admin: tuple[str, str], instance_path: str | None = None,
             people: int = 300) -> dict[str, str]:
    cmds = {
        "web": f"{BIN / 'gunicorn'} --bind 127.0.0.1:{port} --workers 2 --access-logfile - "
                f"--logger-class app.access_log.ScrubbingLogger app.wsgi:application",
        # every queue, fastest first (workers/routing.py): one worker does all of the demo's work
        "worker": f"{BIN / 'rq'} worker -w workers.worker.SyncWorker --url {redis_url} "
                  f"{' '.join(QUEUES)}",
        "clock": f"{BIN / 'rq'} cron --url {redis_url} {ROOT / 'workers' / 'cron.py'}",
    }
    if sandbox_port:
        cmds["sandbox"] = (f"{sys.executable} -m sandbox.atlassian --port {sandbox_port} "
                           f"--seed {ROOT / 'sandbox' / 'demo' / 'site.json'} "
                           f"--admin-email={shlex.quote(admin[0])} --admin-token={shlex.quote(admin[1])}")
        cmds["forge"] = (f"{sys.executable} -m sandbox.forge --port {forge_port(sandbox_port)} "
                         f"--remote http://localhost:{port} --schedule")
        if instance_path:
            oauth = oauth_env(port, instance_path)
            cmds["sandbox"] += (" --oauth-client " + " ".join(shlex.quote(oauth[k]) for k in (
                "USERSYNC_OAUTH_CLIENT_ID", "USERSYNC_OAUTH_CLIENT_SECRET",
                "USERSYNC_OAUTH_REDIRECT_URI")))
            state = Path(instance_path) / "sandbox-idp.json"
            token = sandbox_secrets(instance_path)["idp-token"]
            cmds["idp"] = (f"{sys.executable} -m sandbox.demo.idp --port {idp_port(sandbox_port)} "
                           f"--state {shlex.quote(str(state))} --people {people} "
                           f"--token {shlex.quote(token)}")
    return cmds


def run(settings: dict[str, Any], port: int, sandbox_port: int | None,
        options: Options | None = None) -> int:
    options = options or Options()
    if options.once and not sandbox_port:
        sys.exit("--once needs the sandbox (it sets up and syncs against it): drop --no-sandbox")
    started = time.monotonic()
    if options.fresh:
        start_over(settings)
    instance = settings["INSTANCE_PATH"]
    Path(instance).mkdir(parents=True, exist_ok=True)
    logs = Path(instance) / "logs"
    if not options.verbose:
        _quiet_parent_logs(logs)
    migrate.upgrade(settings["DATABASE_URL"])
    if sandbox_port:
        _forget_earlier_sandboxes(settings)
    # Keep the embedded server alive in this parent for as long as the children run.
    redis = redis_conn.connect(settings["REDIS_URL"], instance)
    redis_url = settings["REDIS_URL"] or redis_conn.url_of(redis)
    env = child_env(settings, redis_url, port, sandbox_port)
    if sandbox_port:
        env.update({k: v for k, v in oauth_env(port, instance).items() if k not in os.environ})
    record_rule(settings, env)
    admin = sandbox_admin(instance)
    printer = None if options.verbose else LogFiles(logs)
    manager = Manager(printer=printer)
    for name, cmd in commands(port, redis_url, sandbox_port, admin, instance,
                              options.people).items():
        manager.add_process(name, cmd, env=env, cwd=str(ROOT))
    app_url = f"http://localhost:{port}"
    print(f"User & Group Sync on {app_url}  (health: /healthz); "
          f"logs: {'here' if options.verbose else logs}", flush=True)
    result: dict[str, int] = {}
    if sandbox_port:
        demo_settings = dict(settings, REDIS_URL=redis_url, SECRET_KEYS=env["USERSYNC_SECRET_KEYS"].split(","))
        threading.Thread(target=_first_run, daemon=True, name="first-run", args=(
            demo_settings, port, sandbox_port, admin, options, manager, result, started,
            printer)).start()
    manager.loop()
    if options.once:
        return result.get("code", 1)
    return manager.returncode or 0


def start_over(settings: dict[str, Any]) -> None:
    """--fresh: forget the embedded state (database, queue, keys, sandbox IdP, logs)."""
    instance = Path(settings["INSTANCE_PATH"])
    if settings["DATABASE_URL"] != f"sqlite:///{instance / 'usersync.db'}" or settings["REDIS_URL"]:
        sys.exit("--fresh starts over only on the embedded defaults; DATABASE_URL or REDIS_URL "
                 "points elsewhere: reset those yourself")
    if instance.exists():
        shutil.rmtree(instance)
    print(f"starting over: {instance} removed", flush=True)


def _quiet_parent_logs(logs: Path) -> None:
    """This process's own library logging (Alembic, the set-up's HTTP) goes to a file too."""
    logs.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(logs / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # Alembic's fileConfig-less run logs through "alembic" with its own handler otherwise
    logging.getLogger("alembic").handlers[:] = []


def _forget_earlier_sandboxes(settings: dict[str, Any]) -> None:
    """Before any worker starts: jobs left queued for a previous sandbox run must not retry."""
    from app import demo, extensions

    extensions.configure(settings)
    with extensions.db.session() as session:
        forgotten = demo.forget_earlier_sandboxes(session)
    if forgotten:
        print(f"{len(forgotten)} installation(s) of earlier sandbox runs marked uninstalled",
              flush=True)


def _first_run(settings: dict[str, Any], port: int, sandbox_port: int, admin: tuple[str, str],
               options: Options, manager: Manager, result: dict[str, int], started: float,
               printer: LogFiles | None) -> None:
    """Set up as an admin would, print the summary and URLs, then one line per sync run."""
    from app import extensions
    from app.first_run import FirstRun, Sites, StepFailed

    app_url = f"http://localhost:{port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sites = Sites(app=app_url, sandbox=sandbox_url,
                  forge=f"http://127.0.0.1:{forge_port(sandbox_port)}",
                  idp=f"http://127.0.0.1:{idp_port(sandbox_port)}",
                  idp_token=sandbox_secrets(settings["INSTANCE_PATH"])["idp-token"], admin=admin)
    setup = FirstRun(sites, settings, forge=options.forge)
    steps = setup.steps()
    progress = Progress(len(steps))
    try:
        for title, action in steps:
            progress.step(title, action)
        result["code"] = 0
    except (StepFailed, TimeoutError, OSError, requests.RequestException) as exc:
        print(f"set-up failed: {exc}\n(the processes' logs are in "
              f"{Path(settings['INSTANCE_PATH']) / 'logs'})", flush=True)
        result["code"] = 1
    except Exception as exc:  # noqa: BLE001 - say it in one line; the product itself still runs
        print(f"set-up failed: unexpected {type(exc).__name__}: {exc}", flush=True)
        result["code"] = 1
    if result["code"] == 0:
        print(summary(setup, time.monotonic() - started), flush=True)
    print(urls(app_url, sandbox_url, Path(settings["INSTANCE_PATH"]), admin, options.once), flush=True)
    if options.once:
        if printer is not None:
            printer.stopping = True
        print("stopping every process it started", flush=True)
        manager.terminate()
        return
    RunWatcher(extensions.db, stopping=lambda: bool(printer and printer.stopping)).start()


def summary(setup: Any, seconds: float) -> str:
    """Groups created, memberships added, users invited, time taken."""
    applied, out = setup.out.applied, setup.out
    return (f"\nFirst sync {out.sync_status}: {applied.get('create_group', 0)} groups created, "
            f"{applied.get('add_member', 0)} memberships added, "
            f"{applied.get('invite_user', 0)} users invited, "
            f"{applied.get('link_user', 0)} existing accounts linked "
            f"(sync {out.sync_seconds:.1f} s; everything {seconds:.0f} s)")


def urls(app_url: str, sandbox_url: str, instance: Path, admin: tuple[str, str],
         once: bool) -> str:
    lines = [f"\n  Admin page (as the sandbox site's admin): {app_url}/dev/admin",
             f"  Connect descriptor:                      {app_url}/atlassian-connect.json",
             f"  Sandbox Atlassian site:                  {sandbox_url}  "
             f"(admin {admin[0]}, API token in {instance / 'sandbox-admin-token'})"]
    if not once:
        lines += ["\nThe connection syncs every five minutes. Change the sandbox IdP in another "
                  "terminal and watch it arrive:",
                  "  .venv/bin/usersync sandbox leave EMAIL",
                  "  .venv/bin/usersync sandbox join EMAIL GROUP",
                  "  .venv/bin/usersync sandbox status     # people, groups, leavers",
                  "Ctrl-C stops everything. One line per sync run follows:"]
    return "\n".join(lines)
