"""Forge's signing keys: the JWKS at USERSYNC_FORGE_JWKS_URL, cached, re-read for an unknown `kid`
at most once a minute (so a flood of made-up kids cannot turn us into a JWKS hammer)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

log = logging.getLogger(__name__)

REFRESH_INTERVAL = 60.0
"""Seconds between two JWKS reads caused by unknown kids."""
FETCH_TIMEOUT = 5.0

Fetch = Callable[[str], dict[str, Any]]


def fetch_jwks(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=FETCH_TIMEOUT, allow_redirects=False)
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
        raise ValueError("the JWKS answer has no keys list")
    return body


class ForgeKeys:
    """RSA public keys by `kid`, thread-safe; `key(kid)` is None for a kid Forge does not publish."""

    def __init__(self, url: str, fetch: Fetch = fetch_jwks,
                 refresh_interval: float = REFRESH_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self._fetch, self._interval, self._clock = url, fetch, refresh_interval, clock
        self._keys: dict[str, Any] = {}
        self._last_fetch: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> Any | None:
        found = self._keys.get(kid)
        if found is not None:
            return found
        with self._lock:
            if kid not in self._keys and self._may_fetch():
                self._refresh()
            return self._keys.get(kid)

    def _may_fetch(self) -> bool:
        return self._last_fetch is None or self._clock() - self._last_fetch >= self._interval

    def _refresh(self) -> None:
        self._last_fetch = self._clock()
        try:
            body = self._fetch(self.url)
        except (requests.RequestException, ValueError) as exc:
            # keep the keys we have: a JWKS outage must not reject tokens signed by known keys
            log.warning("Forge JWKS at %s could not be read: %s", self.url, exc)
            return
        keys: dict[str, Any] = {}
        for entry in body["keys"]:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
                continue
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry, algorithm="RS256").key
            except jwt.PyJWTError as exc:
                log.warning("Forge JWKS key %s skipped: %s", entry.get("kid"), exc)
        if keys:  # a key Forge no longer publishes is no longer trusted
            self._keys = keys


def for_app(extensions: dict, url: str) -> ForgeKeys:
    """The key cache of one Flask app (one per process in production), made on first use."""
    keys = extensions.get("forge-keys")
    if keys is None or keys.url != url:
        keys = extensions["forge-keys"] = ForgeKeys(url)
    return keys
