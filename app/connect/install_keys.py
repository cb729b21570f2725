"""Fetches the RS256 public keys that sign Connect lifecycle calls, cached by `kid` (they never change)."""

from __future__ import annotations

import re
import threading

import requests
from cryptography.hazmat.primitives.serialization import load_pem_public_key

KID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class UnknownKey(Exception):
    """The key server does not know this kid (or the kid is malformed)."""


class KeyServerUnavailable(Exception):
    """The key server could not be reached or answered with a server error."""


class InstallKeys:
    """A kid → PEM cache in front of the key server at `base_url`."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, kid: str) -> str:
        if not KID.match(kid or ""):
            raise UnknownKey("the token's kid is missing or malformed")
        with self._lock:
            if kid in self._cache:
                return self._cache[kid]
        pem = self._fetch(kid)
        with self._lock:
            self._cache[kid] = pem
        return pem

    def _fetch(self, kid: str) -> str:
        try:
            response = requests.get(self.base_url + kid, timeout=self.timeout)
        except requests.RequestException as exc:
            raise KeyServerUnavailable(f"install key server unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            raise UnknownKey(f"the install key server does not know kid {kid}")
        if response.status_code != 200:
            raise KeyServerUnavailable(f"install key server answered {response.status_code}")
        pem = response.text
        try:
            load_pem_public_key(pem.encode())
        except ValueError as exc:
            raise KeyServerUnavailable("install key server returned something that is not a PEM key") from exc
        return pem


_instances: dict[str, InstallKeys] = {}


def for_url(base_url: str) -> InstallKeys:
    """One cache per key server URL for the whole process."""
    if base_url not in _instances:
        _instances[base_url] = InstallKeys(base_url)
    return _instances[base_url]
