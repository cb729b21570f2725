"""`usersync run`'s set-up, done as a site admin would: install (Connect, then Forge), give the
write credential through OAuth consent, add the sandbox IdP through the admin API, preview, sync."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from app import demo, extensions
from app.models import Installation

CONNECTION_NAME = "Sandbox IdP (SCIM)"
SCHEDULE = "five_minutes"  # set once the first sync is done; then it runs on its own
RUN_TIMEOUT = 300.0  # seconds a preview or sync may take before the set-up gives up on it


class StepFailed(Exception):
    """A set-up step did not work; the message says which and why, in one line."""


@dataclass
class Sites:
    """Where each part listens, and the sandbox admin's sign-in."""

    app: str
    sandbox: str
    forge: str
    idp: str
    idp_token: str
    admin: tuple[str, str]


@dataclass
class Outcome:
    """What the set-up did, for the summary."""

    client_key: str = ""
    connection_id: int = 0
    preview: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    sync_status: str = ""
    sync_seconds: float = 0.0
    forge_note: str = ""


Step = tuple[str, Callable[[], str | None]]


class FirstRun:
    """The steps in order; each returns a short note for the progress line, or raises StepFailed."""

    def __init__(self, sites: Sites, settings: dict[str, Any], forge: bool = False):
        self.sites, self.settings, self.out = sites, settings, Outcome()
        self.token, self.with_forge = "", forge

    def steps(self) -> list[Step]:
        steps: list[Step] = [
            ("waiting for web, sandbox site, Forge invoker and IdP", self.wait),
            ("installing the app into the sandbox site (Connect lifecycle)", self.install),
            ("signing in to the admin page as the site admin", self.sign_in),
            ("giving the write credential (OAuth 2.0 consent)", self.consent),
            ("connecting the sandbox IdP over SCIM (admin API)", self.connect_idp),
            ("previewing the first sync", self.preview),
            ("running the first sync", self.sync)]
        if self.with_forge:
            steps.append(("installing the Forge app (adopts the Connect install)", self.forge))
        return steps

    def wait(self) -> str | None:
        for url in (self.sites.app + "/healthz", self.sites.sandbox + "/rest/plugins/1.0/",
                    self.sites.forge + "/.well-known/jwks.json",
                    self.sites.idp + "/scim/v2/ServiceProviderConfig"):
            demo.wait_until_up(url, timeout=90)
        return None

    def install(self) -> str | None:
        extensions.configure(self.settings)
        demo.install(self.sites.sandbox, self.sites.app + "/atlassian-connect.json", self.sites.admin)
        with extensions.db.session() as session:
            inst = session.scalars(select(Installation).where(
                Installation.base_url == self.sites.sandbox.rstrip("/"))
                .order_by(Installation.id.desc())).first()
            if inst is None:
                raise StepFailed("the sandbox site did not install the app")
            self.out.client_key = inst.client_key
            demo.forget_earlier_sandboxes(session, keep=inst.id)
        return f"clientKey {self.out.client_key[:8]}…"

    def forge(self) -> str | None:
        answer = requests.post(self.sites.forge + "/installations", timeout=60, json={
            "siteUrl": self.sites.sandbox, "adminEmail": self.sites.admin[0],
            "adminToken": self.sites.admin[1], "connectClientKey": self.out.client_key})
        if answer.status_code >= 300:
            raise StepFailed(f"the Forge invoker answered {answer.status_code}: {answer.text[:200]}")
        self.out.forge_note = f"Forge installation {answer.json().get('installationId', '?')}"
        return self.out.forge_note

    def sign_in(self) -> str | None:
        answer = requests.get(self.sites.app + "/dev/admin", allow_redirects=False, timeout=30,
                              params={"client_key": self.out.client_key})
        token = parse_qs(urlsplit(answer.headers.get("Location", "")).query).get("jwt", [""])[0]
        if answer.status_code != 302 or not token:
            raise StepFailed(f"/dev/admin answered {answer.status_code}: {answer.text[:200]}")
        self.token = token
        return None

    def consent(self) -> str | None:
        start = self.api("POST", "/credential/oauth/start")
        # The sandbox's authorization server plays the admin pressing "Accept".
        consent = requests.get(start["authorize_url"], allow_redirects=False, timeout=30)
        back = consent.headers.get("Location", "")
        if consent.status_code != 302 or not back:
            raise StepFailed(f"the consent page answered {consent.status_code}: {consent.text[:200]}")
        done = requests.get(back, timeout=60)
        if done.status_code != 200:
            raise StepFailed(f"the OAuth callback answered {done.status_code}: {_text(done)}")
        check = self.api("POST", "/credential/check")
        if not check.get("ok") or check.get("kind") != "oauth":
            raise StepFailed(f"the OAuth credential does not work: {check.get('message')}")
        return "OAuth grant stored"

    def connect_idp(self) -> str | None:
        settings = {"base_url": self.sites.idp + "/scim/v2", "auth": "bearer",
                    "token": self.sites.idp_token}
        existing = [c for c in self.api("GET", "/connections").get("items", [])
                    if c.get("name") == CONNECTION_NAME and not c.get("deleted")]
        if existing:  # the same site again (reinstalled): keep its connection and history
            self.out.connection_id = existing[0]["id"]
            self.api("PATCH", f"/connections/{self.out.connection_id}", json={"settings": settings})
        else:
            # on demand until the first sync is done, as the wizard does: a schedule set now
            # would let the clock's next tick run the first sync before the preview is seen
            created = self.api("POST", "/connections", json={
                "kind": "scim_pull", "name": CONNECTION_NAME, "settings": settings,
                "enabled": True, "schedule": None})
            self.out.connection_id = created["id"]
        tested = self.api("POST", f"/connections/{self.out.connection_id}/test")
        if not tested.get("ok"):
            raise StepFailed(f"the IdP connection test failed: {tested.get('message') or tested}")
        self.register_webhook()
        return f"connection {self.out.connection_id}, webhook registered"

    def register_webhook(self) -> None:
        """Give the sandbox IdP this connection's webhook URL and secret: a change made with
        `usersync sandbox leave|join` then arrives within seconds, not at the next tick."""
        hook = self.api("GET", f"/connections/{self.out.connection_id}/webhook")
        answer = requests.post(f"{self.sites.idp}/sandbox/webhook", timeout=10,
                               json={"url": hook["url"], "secret": hook["secret"]},
                               headers={"Authorization": f"Bearer {self.sites.idp_token}"})
        if answer.status_code >= 300:
            raise StepFailed(f"the sandbox IdP refused the webhook: {_text(answer)}")

    def preview(self) -> str | None:
        run = self._run("preview")
        if run["status"] != "preview":
            raise StepFailed(f"the preview ended {run['status']}: {run.get('error') or run.get('reason')}")
        self.out.preview = run.get("summary") or {}
        return _counts(self.out.preview)

    def sync(self) -> str | None:
        run = self._run("sync")
        self.out.sync_status = run["status"]
        counts = run.get("counts") or {}
        self.out.applied = {k: int(v) for k, v in (counts.get("applied_by_kind") or {}).items()}
        if run["status"] != "succeeded":
            raise StepFailed(f"the first sync ended {run['status']}: "
                             f"{run.get('error') or run.get('reason') or ''}")
        self.api("PUT", f"/connections/{self.out.connection_id}/schedule",
                 json={"schedule": SCHEDULE})
        return _counts(self.out.applied)

    def _run(self, what: str) -> dict[str, Any]:
        """Enqueue a preview or a sync through the admin API and wait for its run to end."""
        started = time.monotonic()
        job = self.api("POST", f"/connections/{self.out.connection_id}/{what}")["job_id"]
        deadline = started + RUN_TIMEOUT
        while time.monotonic() < deadline:
            state = self.api("GET", f"/jobs/{job}")
            if state.get("run_id"):
                run = self.api("GET", f"/runs/{state['run_id']}")
                if run["status"] not in ("running", "queued"):
                    if what == "sync":
                        self.out.sync_seconds = time.monotonic() - started
                    return run
            elif state.get("state") == "failed":
                raise StepFailed(f"the {what} job failed before it recorded a run")
            time.sleep(0.5)
        raise StepFailed(f"the {what} did not finish within {RUN_TIMEOUT:.0f} s")

    def api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = requests.request(method, self.sites.app + "/api/admin" + path, timeout=60,
                                  headers={"Authorization": f"JWT {self.token}"}, **kwargs)
        if answer.status_code >= 300:
            raise StepFailed(f"{method} /api/admin{path} answered {answer.status_code}: {_text(answer)}")
        return answer.json() if answer.content else {}


def _text(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("message") or body.get("error") or body)[:300]


def _counts(counts: dict[str, int]) -> str:
    shown = {k: v for k, v in counts.items() if v}
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in shown.items()) or "nothing to do"
