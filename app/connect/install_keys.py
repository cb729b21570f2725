"""Fetches the RS256 public keys that sign Connect lifecycle calls, cached by `kid` (they never change).

The kid comes from an unauthenticated request, so everything about the fetch is bounded: a
strict kid pattern, no redirects, a small answer, failed look-ups remembered for a while and
a process-wide budget of outbound fetches.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import requests
from cryptography.hazmat.primitives.serialization import load_pem_public_key

# Atlassian does not document the format; its kids are UUID-like. Letters, digits, `-`, `_`,
# and single dots between them: never `..`, `/`, `%`, whitespace or a newline.
KID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
MAX_KID = 128
MAX_PEM_BYTES = 16 * 1024
NEGATIVE_TTL = 60.0  # seconds an unknown kid is answered from memory
FETCH_BURST = 10  # outbound fetches allowed at once ...
FETCH_RATE = 0.5  # ... refilled at this many per second (30 a minute)


class UnknownKey(Exception):
    """The key server does not know this kid (or the kid is malformed)."""


class KeyServerUnavailable(Exception):
    """The key server could not be reached, answered with an error, or our fetch budget is spent."""


def valid_kid(kid: object) -> bool:
    return isinstance(kid, str) and 0 < len(kid) <= MAX_KID and KID.fullmatch(kid) is not None


class FetchBudget:
    """A token bucket: at most `burst` fetches at once, `rate` more per second."""

    def __init__(self, burst: int = FETCH_BURST, rate: float = FETCH_RATE,
                 clock: Callable[[], float] = time.monotonic):
        self.burst, self.rate, self.clock = burst, rate, clock
        self._tokens, self._at = float(burst), clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class InstallKeys:
    """A kid → PEM cache in front of the key server at `base_url`."""

    def __init__(self, base_url: str, timeout: float = 5.0, budget: FetchBudget | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.budget = budget or FetchBudget(clock=clock)
        self.clock = clock
        self._cache: dict[str, str] = {}
        self._unknown: dict[str, float] = {}  # kid → when the key server last said 404
        self._lock = threading.Lock()

    def get(self, kid: str) -> str:
        if not valid_kid(kid):
            raise UnknownKey("the token's kid is missing or malformed")
        with self._lock:
            if kid in self._cache:
                return self._cache[kid]
            seen = self._unknown.get(kid)
            if seen is not None and self.clock() - seen < NEGATIVE_TTL:
                raise UnknownKey(f"the install key server does not know kid {kid}")
        if not self.budget.take():
            raise KeyServerUnavailable("too many install key look-ups right now; try again shortly")
        try:
            pem = self._fetch(kid)
        except UnknownKey:
            with self._lock:
                self._forget_old_unknowns()
                self._unknown[kid] = self.clock()
            raise
        with self._lock:
            self._cache[kid] = pem
            self._unknown.pop(kid, None)
        return pem

    def _forget_old_unknowns(self) -> None:
        now = self.clock()
        for old in [k for k, at in self._unknown.items() if now - at >= NEGATIVE_TTL]:
            del self._unknown[old]

    def _fetch(self, kid: str) -> str:
        try:
            with requests.get(self.base_url + quote(kid, safe=""), timeout=self.timeout,
                              allow_redirects=False, stream=True) as response:
                status = response.status_code
                body = response.raw.read(MAX_PEM_BYTES + 1, decode_content=True) if status == 200 else b""
        except requests.RequestException as exc:
            raise KeyServerUnavailable(f"install key server unreachable: {type(exc).__name__}") from exc
        if status == 404:
            raise UnknownKey(f"the install key server does not know kid {kid}")
        if 300 <= status < 400:
            raise KeyServerUnavailable(f"install key server answered a redirect ({status}); "
                                       "redirects are not followed")
        if status != 200:
            raise KeyServerUnavailable(f"install key server answered {status}")
        if len(body) > MAX_PEM_BYTES:
            raise KeyServerUnavailable("install key server returned more than a public key")
        try:
            pem = body.decode("ascii")
            load_pem_public_key(pem.encode())
        except ValueError as exc:  # UnicodeDecodeError is a ValueError too
            raise KeyServerUnavailable("install key server returned something that is not a PEM key") from exc
        return pem


_instances: dict[str, InstallKeys] = {}
_instances_lock = threading.Lock()


def for_url(base_url: str) -> InstallKeys:
    """One cache per key server URL for the whole process."""
    with _instances_lock:
        if base_url not in _instances:
            _instances[base_url] = InstallKeys(base_url)
        return _instances[base_url]
