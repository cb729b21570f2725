"""Connect apps installed on the sandbox site: their descriptor facts and shared secrets."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# Connect scopes imply the ones below them (developer.atlassian.com, "Scopes").
IMPLIED_SCOPES = {
    "READ": {"READ"},
    "WRITE": {"READ", "WRITE"},
    "DELETE": {"READ", "WRITE", "DELETE"},
    "PROJECT_ADMIN": {"READ", "WRITE", "DELETE", "PROJECT_ADMIN"},
    "SPACE_ADMIN": {"READ", "WRITE", "DELETE", "SPACE_ADMIN"},
    "ADMIN": {"READ", "WRITE", "DELETE", "PROJECT_ADMIN", "SPACE_ADMIN", "ADMIN"},
    "ACT_AS_USER": {"ACT_AS_USER"},
    "ACCESS_EMAIL_ADDRESSES": {"ACCESS_EMAIL_ADDRESSES"},
    "NONE": set(),
}


def effective_scopes(declared: list[str]) -> frozenset[str]:
    """Every scope the declared ones grant, READ always included (Connect's default)."""
    granted = {"READ"}
    for scope in declared:
        granted |= IMPLIED_SCOPES.get(scope.upper(), set())
    return frozenset(granted)


@dataclass
class Installation:
    """One app installed on the site, as the product remembers it."""

    key: str
    client_key: str
    shared_secret: str
    base_url: str
    scopes: frozenset[str]
    account_id: str
    descriptor: dict
    enabled: bool = True
    product: str = "jira"  # each product of a site installs the app apart (own clientKey, secret)
    lifecycle: dict[str, str] = field(default_factory=dict)
    webhooks: list[dict] = field(default_factory=list)

    def webhook_urls(self, event: str) -> list[str]:
        return [self.base_url.rstrip("/") + w["url"] if w["url"].startswith("/") else w["url"]
                for w in self.webhooks if w.get("event") == event]


class Installations:
    """Installed apps by app key and product (Jira and Confluence install apart); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], Installation] = {}

    def put(self, installation: Installation) -> None:
        with self._lock:
            self._by_key[(installation.key, installation.product)] = installation

    def get(self, key: str, product: str = "jira") -> Installation | None:
        with self._lock:
            return self._by_key.get((key, product))

    def remove(self, key: str, product: str = "jira") -> Installation | None:
        with self._lock:
            return self._by_key.pop((key, product), None)

    def all(self) -> list[Installation]:
        with self._lock:
            return list(self._by_key.values())
