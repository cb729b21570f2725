"""Installs Connect apps like a Cloud product: descriptor, signed lifecycle calls, webhooks."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from atlassian_jwt.url_utils import hash_url

from .connect import Installation, Installations, effective_scopes
from .keys import InstallKeys
from .site import Site, SiteUser
from .spec import descriptor_problems

TIMEOUT = 10.0
LIFECYCLE_EVENTS = ("installed", "enabled", "disabled", "uninstalled")
# "Connect active API migrations": signed-install covers install and uninstall only.
SIGNED_INSTALL_EVENTS = ("installed", "uninstalled")


class InstallError(Exception):
    """The app's descriptor or its answer to a lifecycle call made the install fail."""


def _relative(url: str, base_url: str) -> str:
    """The part of URL after the app's baseUrl, as the qsh needs it (path and query)."""
    base_path = urlsplit(base_url).path.rstrip("/")
    parts = urlsplit(url)
    path = parts.path[len(base_path):] if parts.path.startswith(base_path) else parts.path
    return (path or "/") + (f"?{parts.query}" if parts.query else "")


def _absolute(url: str, base_url: str) -> str:
    return base_url.rstrip("/") + url if url.startswith("/") else url


def read_descriptor(descriptor_url: str) -> dict[str, Any]:
    response = requests.get(descriptor_url, timeout=TIMEOUT)
    if response.status_code != 200:
        raise InstallError(f"descriptor fetch answered {response.status_code}")
    try:
        descriptor = response.json()
    except ValueError as exc:
        raise InstallError(f"descriptor is not JSON: {exc}") from exc
    if not isinstance(descriptor, dict):
        raise InstallError("descriptor is not a JSON object")
    problems = descriptor_problems(descriptor)
    if problems:
        raise InstallError("descriptor is invalid: " + "; ".join(problems))
    if descriptor["authentication"].get("type", "").lower() != "jwt":
        raise InstallError("descriptor authentication.type must be jwt")
    return descriptor


class Installer:
    """Drives install, enable, disable and uninstall, and delivers Connect webhooks."""

    def __init__(self, site: Site, installations: Installations, keys: InstallKeys,
                 site_url: Callable[[], str]):
        # the site URL is known only once the server listens, hence a callable
        self.site, self.installations, self.keys, self.site_url = (
            site, installations, keys, site_url)

    def _payload(self, app: Installation, event: str) -> dict[str, Any]:
        return {"key": app.key, "clientKey": app.client_key, "sharedSecret": app.shared_secret,
                "baseUrl": self.site_url(), "displayUrl": self.site_url(),
                "productType": "jira", "description": f"Sandbox site {self.site.name}",
                "serviceEntitlementNumber": "SEN-" + app.client_key[:8],
                "oauthClientId": app.client_key[:16], "eventType": event,
                "cloudId": self.site.cloud_id}

    def _lifecycle(self, app: Installation, event: str) -> requests.Response | None:
        path = app.lifecycle.get(event)
        if not path:
            return None
        url = _absolute(path, app.base_url)
        token = self._lifecycle_token(app, event, url)
        return requests.post(url, data=json.dumps(self._payload(app, event)), timeout=TIMEOUT,
                             headers={"Authorization": f"JWT {token}",
                                      "Content-Type": "application/json"})

    def _lifecycle_token(self, app: Installation, event: str, url: str) -> str:
        """As Cloud signs it: `installed`/`uninstalled` RS256 with the install key (the
        signed-install migration), `enabled`/`disabled` HS256 with the shared secret."""
        qsh = hash_url("POST", _relative(url, app.base_url))
        if event in SIGNED_INSTALL_EVENTS:
            return self.keys.sign({"iss": app.client_key, "aud": [app.base_url], "qsh": qsh})
        now = int(time.time())
        # jti: the sandbox can send disable and enable within one second; each token differs
        return jwt.encode({"iss": app.client_key, "iat": now, "exp": now + 180, "qsh": qsh,
                           "jti": uuid.uuid4().hex}, app.shared_secret, algorithm="HS256")

    def install(self, descriptor_url: str) -> Installation:
        """Fetch the descriptor, POST a signed `installed` (must answer 2xx), then `enabled`."""
        descriptor = read_descriptor(descriptor_url)
        previous = self.installations.get(descriptor["key"])
        app_user = self._app_user(descriptor, previous)
        app = Installation(
            key=descriptor["key"], client_key=previous.client_key if previous
            else str(uuid.uuid4()), shared_secret=secrets.token_urlsafe(48),
            base_url=descriptor["baseUrl"].rstrip("/"),
            scopes=effective_scopes(descriptor.get("scopes", [])), account_id=app_user,
            descriptor=descriptor, lifecycle=descriptor.get("lifecycle") or {},
            webhooks=(descriptor.get("modules") or {}).get("webhooks", []))
        response = self._lifecycle(app, "installed")
        if response is not None and not 200 <= response.status_code < 300:
            raise InstallError(f"app answered {response.status_code} to installed: "
                               f"{response.text[:200]}")
        self.installations.put(app)
        self._lifecycle(app, "enabled")
        return app

    def _app_user(self, descriptor: dict, previous: Installation | None) -> str:
        if previous is not None:
            return previous.account_id
        name = (descriptor.get("name") or descriptor["key"])[:100]
        user = self.site.add_user("", name, account_type="app")
        return user.account_id

    def set_enabled(self, key: str, enabled: bool) -> Installation:
        app = self._get(key)
        app.enabled = enabled
        self._lifecycle(app, "enabled" if enabled else "disabled")
        return app

    def uninstall(self, key: str) -> Installation:
        app = self._get(key)
        self._lifecycle(app, "uninstalled")
        self.installations.remove(key)
        return app

    def _get(self, key: str) -> Installation:
        app = self.installations.get(key)
        if app is None:
            raise InstallError(f"no app with key '{key}' is installed")
        return app

    def send_webhook(self, event: str, user: SiteUser) -> list[int]:
        """POST the event to every enabled app listening for it; returns the statuses."""
        body = json.dumps({"timestamp": int(time.time() * 1000), "webhookEvent": event,
                           "user": {"accountId": user.account_id,
                                    "accountType": user.account_type,
                                    "displayName": user.display_name,
                                    "emailAddress": user.email, "active": user.is_active}})
        statuses = []
        for app in self.installations.all():
            if not app.enabled:
                continue
            for url in app.webhook_urls(event):
                statuses.append(self._deliver(app, url, body))
        return statuses

    def send_webhook_later(self, event: str, user: SiteUser) -> None:
        """Deliver in the background, as the product does after answering the API call."""
        threading.Thread(target=self.send_webhook, args=(event, user), daemon=True,
                         name=f"webhook-{event}").start()

    def _deliver(self, app: Installation, url: str, body: str) -> int:
        now = int(time.time())
        token = jwt.encode({"iss": app.client_key, "iat": now, "exp": now + 180,
                            "qsh": hash_url("POST", _relative(url, app.base_url))},
                           app.shared_secret, algorithm="HS256")
        try:
            return requests.post(url, data=body, timeout=TIMEOUT,
                                 headers={"Authorization": f"JWT {token}",
                                          "Content-Type": "application/json"}).status_code
        except requests.RequestException:
            return 0  # delivery is best effort, as on a real site
