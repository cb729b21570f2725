"""Sandbox wiring: install the app through the sandbox site's plugin manager, retire the
installations of earlier sandbox runs, and (for tests) a directory-file connection with an API token."""

from __future__ import annotations

import ipaddress
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import extensions
from app.connect import tenancy
from app.connections import create as create_connection
from app.models import Connection, Installation, InstallationState
from app.models.credential import CredentialKind

log = logging.getLogger(__name__)
DEMO_DIRECTORY = Path(__file__).resolve().parents[1] / "sandbox" / "demo" / "directory.json"


def wait_until_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not come up within {timeout:.0f} s")
        time.sleep(0.3)


def install(sandbox_url: str, descriptor_url: str, admin: tuple[str, str]) -> None:
    """Install like an admin does in 'Manage apps → Upload app' (Atlassian's plugin manager)."""
    upm = sandbox_url.rstrip("/") + "/rest/plugins/1.0/"
    token = requests.get(upm, auth=admin, timeout=10).headers["upm-token"]
    r = requests.post(upm, params={"token": token}, auth=admin, timeout=30,
                      json={"pluginUri": descriptor_url},
                      headers={"Content-Type": "application/vnd.atl.plugins.install.uri+json"})
    r.raise_for_status()


def is_sandbox_url(url: str) -> bool:
    """A site on this machine's loopback: only the sandbox serves one (Atlassian's are https)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def forget_earlier_sandboxes(session: Session, keep: int | None = None) -> list[str]:
    """Mark installations of earlier sandbox runs uninstalled; returns their client keys.

    The sandbox keeps its site in memory and starts fresh each run, on whatever port it is
    given: installations from its earlier runs are gone with it, so their connections must
    stop syncing (and retrying) against a site that no longer exists.
    """
    forgotten = []
    for old in session.scalars(select(Installation).where(
            Installation.state != InstallationState.UNINSTALLED)):
        if old.id != keep and is_sandbox_url(old.base_url):
            tenancy.set_state(session, old.client_key, "uninstalled")
            forgotten.append(old.client_key)
    return forgotten


def bootstrap(settings: dict[str, Any], app_url: str, sandbox_url: str, admin: tuple[str, str],
              enqueue) -> int:  # type: ignore[no-untyped-def]
    """Returns the demo connection's id; `enqueue(connection_id)` asks for its first sync."""
    from workers.atlassian.credentials import save_credential

    extensions.configure(settings)
    wait_until_up(app_url + "/healthz")
    wait_until_up(sandbox_url + "/rest/plugins/1.0/")
    install(sandbox_url, app_url + "/atlassian-connect.json", admin)
    with extensions.db.session() as session:
        inst = session.scalars(select(Installation).where(
            Installation.base_url == sandbox_url.rstrip("/")).order_by(Installation.id.desc())).first()
        if inst is None:
            raise RuntimeError("the sandbox did not install the app")
        iid, client_key = inst.id, inst.client_key
        forget_earlier_sandboxes(session, keep=iid)
    save_credential(extensions.db, iid, CredentialKind.API_TOKEN,
                    {"email": admin[0], "api_token": admin[1]}, extensions.secrets.encrypt)
    with extensions.db.session() as session:
        conn = session.scalars(select(Connection).where(Connection.installation_id == iid)).first()
        if conn is None:
            conn = create_connection(session, client_key=client_key, kind="directory_file",
                                     name="Demo directory", settings={"path": str(DEMO_DIRECTORY)},
                                     mapping={"mode": "on_the_fly", "schedule": "five_minutes",
                                              "default_groups": ["jira-software-users"]},
                                     encrypt=extensions.secrets.encrypt)
        cid = conn.id
    enqueue(cid)
    return cid
