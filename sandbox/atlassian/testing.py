"""Run a sandbox Atlassian Cloud site for a test or benchmark: `with running_site() as cloud:`.

The handle yielded by `running_site(**options)` offers:
- `base_url`: the site URL, which is also the api.atlassian.com and auth.atlassian.com URL
  (`/ex/jira/{cloud_id}/rest/api/3/…`, `/oauth/token`, `/authorize`, `/admin/v1/orgs/…`).
- `site` (the live state: users, groups, memberships; mutate it freely), `cloud_id`,
  `org_id`, `admin_email`, `admin_api_token`, `admin_account_id`, `org_api_key`,
  `admin_auth` (a `(email, token)` tuple for requests' `auth=`).
- `register_oauth_client(client_id, client_secret, redirect_uris)`, `oauth` (the auth
  server: `expires_in`, `reuse_interval`, `revoke(client_id=…)`), `clock.advance(seconds)`.
- `install_app(descriptor_url)` → Installation (`client_key`, `shared_secret`, `key`, …),
  `uninstall_app(key)`, `disable_app(key)`, `enable_app(key)`,
  `send_webhook(event, user_or_account_id)` → delivery statuses.
- `faults.inject(kind="status"|"slow"|"drop"|"cut", status=…, retry_after=…, seconds=…,
  method=…, path=…, rate=…, nth=…, times=…)` / `faults.clear()`;
  `limits.set(read=(rate, burst), write=(rate, burst), reason=…)` / `limits.off()`;
  `set_latency(seconds)`.
- `requests`: the request log (`all()`, `matching(method, path_contains)`, `writes()`,
  `duplicate_writes()`, `clear()`); `violations`: spec violations seen so far.
Options: `seed` (a dict or a JSON file path), `users`/`groups`/`memberships`/`seed_value`
(generator), `validate` (default True: every request and response is checked against
Atlassian's spec and the context fails on exit if any broke it), `latency`, `rate_limits`
(a dict for `limits.set`), `admin_email`, `admin_api_token`, `org_api_key`, `expires_in`,
`reuse_interval`, `auto_webhooks` (send `user_created` to installed apps when the API invites
a user, in the background as the product does; off by default).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox.live import LiveServer

from .connect import Installation
from .server import AtlassianSandbox
from .site import Site, SiteUser


class SiteHandle:
    """What a test holds while a sandbox site runs (see the module docstring)."""

    def __init__(self, sandbox: AtlassianSandbox, base_url: str):
        self.sandbox = sandbox
        self.base_url = base_url
        sandbox.base_url = base_url
        self.site: Site = sandbox.site
        self.cloud_id, self.org_id = self.site.cloud_id, self.site.org_id
        self.admin_email = sandbox.admin.email
        self.admin_api_token = sandbox.admin.api_token or ""
        self.admin_account_id = sandbox.admin.account_id
        self.org_api_key = sandbox.org_api_key
        self.oauth, self.clock = sandbox.oauth, sandbox.clock
        self.faults, self.limits = sandbox.faults, sandbox.limits
        self.requests, self.violations = sandbox.requests, sandbox.violations
        self.installer = sandbox.installer

    @property
    def admin_auth(self) -> tuple[str, str]:
        return self.admin_email, self.admin_api_token

    def register_oauth_client(self, client_id: str, client_secret: str,
                              redirect_uris: list[str]) -> None:
        self.oauth.register_client(client_id, client_secret, redirect_uris)

    def install_app(self, descriptor_url: str, product: str = "jira") -> Installation:
        return self.installer.install(descriptor_url, product)

    def uninstall_app(self, key: str, product: str = "jira") -> Installation:
        return self.installer.uninstall(key, product)

    def disable_app(self, key: str) -> Installation:
        return self.installer.set_enabled(key, False)

    def enable_app(self, key: str) -> Installation:
        return self.installer.set_enabled(key, True)

    def send_webhook(self, event: str, user: SiteUser | str) -> list[int]:
        if isinstance(user, str):
            user = self.site.user(user)
        return self.installer.send_webhook(event, user)

    def set_latency(self, seconds: float) -> None:
        self.sandbox.latency = seconds

    def url(self, path: str) -> str:
        return self.base_url + path

    def jira_api_url(self, path: str = "") -> str:
        """The api.atlassian.com form of a Jira path, for OAuth bearer calls."""
        return f"{self.base_url}/ex/jira/{self.cloud_id}{path}"

    def confluence_api_url(self, path: str = "") -> str:
        return f"{self.base_url}/ex/confluence/{self.cloud_id}{path}"

    def violation_report(self) -> str:
        return "\n".join(f"{v.direction} {v.operation} ({v.status}): {'; '.join(v.problems)}"
                         for v in self.violations)


def build_site(seed: dict[str, Any] | str | Path | None = None, *, users: int = 0,
               groups: int = 0, memberships: int = 0, seed_value: int = 1) -> Site:
    """A site seeded from a dict/JSON file and/or the generator."""
    site = Site(seed=seed_value)
    if isinstance(seed, str | Path):
        seed = json.loads(Path(seed).read_text(encoding="utf-8"))
    if seed:
        site.load(seed)
    if users or groups:
        site.generate(users, groups, memberships, seed=seed_value)
    return site


@contextmanager
def running_site(*, seed: dict[str, Any] | str | Path | None = None, users: int = 0,
                 groups: int = 0, memberships: int = 0, seed_value: int = 1,
                 validate: bool = True, latency: float = 0.0,
                 rate_limits: dict[str, Any] | None = None,
                 admin_email: str = "admin@example.com", admin_api_token: str | None = None,
                 org_api_key: str | None = None, expires_in: int = 3600,
                 reuse_interval: float = 600.0,
                 auto_webhooks: bool = False) -> Iterator[SiteHandle]:
    """Serve a sandbox site on a free loopback port for the duration of the block."""
    site = build_site(seed, users=users, groups=groups, memberships=memberships,
                      seed_value=seed_value)
    sandbox = AtlassianSandbox(site, admin_email=admin_email, admin_api_token=admin_api_token,
                               org_api_key=org_api_key, validate=validate, latency=latency,
                               fault_seed=seed_value, auto_webhooks=auto_webhooks)
    sandbox.oauth.expires_in, sandbox.oauth.reuse_interval = expires_in, reuse_interval
    if rate_limits:
        sandbox.limits.set(**rate_limits)
    with LiveServer(sandbox.app) as server:
        handle = SiteHandle(sandbox, server.url)
        yield handle
    if validate and len(handle.violations):
        raise AssertionError("The sandbox Atlassian site saw requests or responses that "
                             "break Atlassian's spec:\n" + handle.violation_report())
