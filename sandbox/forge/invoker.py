"""The Forge platform as a Forge Remote sees it: installs the app into a sandbox site, signs
FITs and app system tokens, and calls the remote's lifecycle, scheduled-trigger, preUninstall
and UI (invokeRemote) endpoints with Forge's methods, timeouts and retries."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import requests

from sandbox.atlassian.forge_tokens import SYSTEM_TOKEN_ISSUER, USER_TOKEN_ISSUER

from .keys import SigningKey
from .manifest import AppManifest

log = logging.getLogger(__name__)

FIT_ISSUER = "forge/invocation-token"
FIT_TTL = 60
TRIGGER_TIMEOUT = 5.0  # events and scheduled triggers (Forge remote contract)
UI_TIMEOUT = 25.0  # invokeRemote from a UI module
RETRIES = 4  # events and scheduled triggers are retried; UI calls are not
SYSTEM_TOKEN_TTL = 4 * 3600  # app tokens are JWTs valid up to four hours
FIVE_MINUTES = 300.0
INTERVALS = {"fiveMinute": 300.0, "hour": 3600.0, "day": 86400.0, "week": 604800.0}


class InvokerError(RuntimeError):
    """An install or invocation could not be done (the message says why)."""


@dataclass
class ForgeInstallation:
    installation_id: str
    site_url: str
    cloud_id: str
    product: str
    account_id: str
    api_base_url: str
    installer_account_id: str | None = None
    connect_client_key: str | None = None


@dataclass
class Delivery:
    """One HTTP call made to the remote (for tests and the bench)."""

    kind: str
    path: str
    installation_id: str
    status: int  # 0: no answer (timeout, refused connection)
    seconds: float


@dataclass
class ForgeInvoker:
    manifest: AppManifest
    remote_url: str
    jwks_url: str = ""
    key: SigningKey = field(default_factory=SigningKey)
    environment: str = "DEVELOPMENT"
    retry_delay: float = 0.2
    duplicate_rate: float = 0.1
    seed: int = 1

    def __post_init__(self) -> None:
        self.remote_url = self.remote_url.rstrip("/")
        self.environment_id = (f"ari:cloud:ecosystem::environment/"
                               f"{self.manifest.app_id.rsplit('/', 1)[-1]}/{uuid.uuid4()}")
        self.installations: dict[str, ForgeInstallation] = {}
        self.deliveries: list[Delivery] = []
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- installs ---------------------------------------------------------------------
    def install(self, site_url: str, admin: tuple[str, str], product: str = "jira",
                connect_client_key: str | None = None) -> ForgeInstallation:
        """Install the app into a site as its admin, then send `avi:forge:installed:app`."""
        site_url = site_url.rstrip("/")
        answer = requests.post(f"{site_url}/_sandbox/forge/installations", auth=admin, timeout=10,
                               json={"appId": self.manifest.app_id, "name": "User & Group Sync",
                                     "scopes": list(self.manifest.scopes),
                                     "jwksUrl": self.jwks_url})
        if answer.status_code != 201:
            raise InvokerError(f"the site refused the install ({answer.status_code}): {answer.text[:200]}")
        body = answer.json()
        admin_account = requests.get(f"{site_url}/rest/api/3/myself", auth=admin, timeout=10)
        inst = ForgeInstallation(
            body["installationId"], site_url, body["cloudId"], product, body["accountId"],
            f"{site_url}/ex/{product}/{body['cloudId']}",
            admin_account.json().get("accountId") if admin_account.ok else None,
            connect_client_key)
        with self._lock:
            self.installations[inst.installation_id] = inst
        self.event(inst, "avi:forge:installed:app")
        return inst

    def upgrade(self, inst: ForgeInstallation) -> list[int]:
        return self.event(inst, "avi:forge:upgraded:app")

    def uninstall(self, inst: ForgeInstallation, admin: tuple[str, str]) -> list[int]:
        """Run preUninstall (non-blocking: its failure does not stop the uninstall), then remove."""
        statuses = [self._deliver("preUninstall", inst, endpoint, module, {"context": self._ctx(inst)})
                    for module, endpoint in self.manifest.pre_uninstall]
        requests.delete(f"{inst.site_url}/_sandbox/forge/installations/{inst.installation_id}",
                        auth=admin, timeout=10)
        with self._lock:
            self.installations.pop(inst.installation_id, None)
        return statuses

    # -- invocations --------------------------------------------------------------------
    def event(self, inst: ForgeInstallation, event: str) -> list[int]:
        body = {"eventType": event, "id": inst.installation_id,
                "installerAccountId": inst.installer_account_id,
                "app": {"id": self.manifest.app_id, "version": "1.0.0"},
                "environment": {"id": self.environment_id}, "context": self._ctx(inst)}
        return [self._deliver("event", inst, endpoint, module, body)
                for module, endpoint, events in self.manifest.events if event in events]

    def product_event(self, inst: ForgeInstallation, event: str, payload: dict[str, Any]) -> list[int]:
        """An Atlassian app event (e.g. `avi:jira:created:user` with `user`) to its triggers."""
        body = {"eventType": event, **payload, "context": self._ctx(inst)}
        return [self._deliver("event", inst, endpoint, module, body)
                for module, endpoint, events in self.manifest.events if event in events]

    def scheduled(self, inst: ForgeInstallation, times: int = 1) -> list[int]:
        """Fire the installation's scheduled triggers `times` times (Forge sometimes repeats one)."""
        statuses = []
        for _ in range(times):
            for module, endpoint, _interval in self.manifest.scheduled:
                statuses.append(self._deliver("scheduledTrigger", inst, endpoint, module,
                                              {"context": self._ctx(inst)}))
        return statuses

    def invoke_remote(self, inst: ForgeInstallation, path: str, method: str = "GET",
                      body: Any = None, account_id: str | None = None,
                      page: str | None = None) -> requests.Response:
        """invokeRemote from the admin page: the resolver endpoint's remote, the user as principal."""
        page = page or next(iter(self.manifest.pages))
        module_type, endpoint_key = self.manifest.pages[page]
        endpoint = self.manifest.endpoint(endpoint_key)
        principal = account_id or inst.installer_account_id
        claims = self._fit(inst, module_type, page, ui=True, principal=principal)
        headers = self._headers(inst, endpoint, claims)
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        answer = requests.request(method, self.remote_url + path, data=data, headers=headers,
                                  timeout=UI_TIMEOUT, allow_redirects=False)
        self._log("ui", path, inst, answer.status_code, time.perf_counter() - started)
        return answer

    # -- the schedule -------------------------------------------------------------------
    def start_schedule(self, period: float | None = None) -> None:
        """Fire every installation's triggers each interval, each at its own offset in it, and
        now and then twice, as Forge does (spread over installations, duplicates possible)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._schedule_loop, args=(period,),
                                            name="forge-schedule", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _schedule_loop(self, period: float | None) -> None:
        interval = period or min((INTERVALS[i] for _m, _e, i in self.manifest.scheduled),
                                 default=FIVE_MINUTES)
        fired: dict[str, int] = {}
        while not self._stop.wait(min(1.0, interval / 10)):
            now = time.time()
            for inst in list(self.installations.values()):
                offset = (zlib.crc32(inst.installation_id.encode()) % 1000) / 1000 * interval
                slot = int((now - offset) // interval)
                # the first firing comes at the installation's offset in the next interval
                if slot <= fired.setdefault(inst.installation_id, slot):
                    continue
                fired[inst.installation_id] = slot
                twice = self._rng.random() < self.duplicate_rate
                try:
                    self.scheduled(inst, times=2 if twice else 1)
                except Exception:  # the platform keeps scheduling whatever one remote does
                    log.warning("scheduled trigger for %s failed", inst.installation_id,
                                exc_info=True)

    # -- the wire -------------------------------------------------------------------------
    def _ctx(self, inst: ForgeInstallation) -> dict[str, Any]:
        return {"cloudId": inst.cloud_id}

    def _fit(self, inst: ForgeInstallation, module_type: str, module_key: str, *,
             ui: bool = False, principal: str | None = None) -> dict[str, Any]:
        now = int(time.time())
        app: dict[str, Any] = {
            "id": self.manifest.app_id, "version": "1.0.0", "installationId": inst.installation_id,
            "apiBaseUrl": inst.api_base_url,
            "environment": {"type": self.environment, "id": self.environment_id},
            "module": {"type": module_type, "key": module_key},
            "installation": {"id": inst.installation_id, "contexts": [
                {"cloudId": inst.cloud_id, "apiBaseUrl": inst.api_base_url,
                 "product": inst.product}]}}
        if inst.connect_client_key:
            app["connect"] = {"clientKey": inst.connect_client_key}
        claims: dict[str, Any] = {"iss": FIT_ISSUER, "aud": self.manifest.app_id, "iat": now,
                                  "nbf": now, "exp": now + FIT_TTL, "jti": str(uuid.uuid4()),
                                  "app": app}
        if ui:
            claims["context"] = {"cloudId": inst.cloud_id, "siteUrl": inst.site_url,
                                 "moduleKey": module_key}
            if principal:
                claims["principal"] = principal
        return claims

    def system_token(self, inst: ForgeInstallation, ttl: int = SYSTEM_TOKEN_TTL) -> str:
        now = int(time.time())
        return self.key.sign({"iss": SYSTEM_TOKEN_ISSUER, "sub": inst.account_id,
                              "aud": "api.atlassian.com", "cloudId": inst.cloud_id,
                              "app": {"id": self.manifest.app_id,
                                      "installationId": inst.installation_id},
                              "scope": " ".join(self.manifest.scopes), "iat": now,
                              "exp": now + ttl})

    def user_token(self, inst: ForgeInstallation, account_id: str, ttl: int = 900) -> str:
        now = int(time.time())
        return self.key.sign({"iss": USER_TOKEN_ISSUER, "sub": account_id,
                              "aud": "api.atlassian.com", "cloudId": inst.cloud_id,
                              "app": {"id": self.manifest.app_id,
                                      "installationId": inst.installation_id},
                              "scope": " ".join(self.manifest.scopes), "iat": now,
                              "exp": now + ttl})

    def _headers(self, inst: ForgeInstallation, endpoint: Any,
                 claims: dict[str, Any]) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key.sign(claims)}",
                   "x-b3-traceid": uuid.uuid4().hex, "x-b3-spanid": uuid.uuid4().hex[:16]}
        if endpoint.system_token:
            headers["x-forge-oauth-system"] = self.system_token(inst)
        if endpoint.user_token and claims.get("principal"):  # within a user's session only
            headers["x-forge-oauth-user"] = self.user_token(inst, claims["principal"])
        return headers

    def _deliver(self, kind: str, inst: ForgeInstallation, endpoint_key: str, module_key: str,
                 body: dict[str, Any]) -> int:
        """POST to the endpoint's route, retried as Forge retries events and triggers."""
        endpoint = self.manifest.endpoint(endpoint_key)
        if not endpoint.route:
            raise InvokerError(f"endpoint {endpoint_key} has no route.path")
        module_type = {"event": "core:trigger", "scheduledTrigger": "core:scheduledTrigger",
                       "preUninstall": "core:preUninstall"}[kind]
        status = 0
        for attempt in range(RETRIES + 1):
            headers = {**self._headers(inst, endpoint, self._fit(inst, module_type, module_key)),
                       "Content-Type": "application/json"}
            started = time.perf_counter()
            try:
                status = requests.post(self.remote_url + endpoint.route, data=json.dumps(body),
                                       headers=headers, timeout=TRIGGER_TIMEOUT,
                                       allow_redirects=False).status_code
            except requests.RequestException:
                status = 0
            self._log(kind, endpoint.route, inst, status, time.perf_counter() - started)
            # 2xx is success; 4xx other than 429 will not get better by retrying
            if 200 <= status < 300 or (400 <= status < 500 and status != 429):
                break
            if attempt < RETRIES:
                time.sleep(self.retry_delay * (2 ** attempt))
        return status

    def _log(self, kind: str, path: str, inst: ForgeInstallation, status: int, seconds: float) -> None:
        with self._lock:
            self.deliveries.append(Delivery(kind, path, inst.installation_id, status, seconds))
