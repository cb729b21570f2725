"""Checks an outbound URL before we call it: https only and no private addresses unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURLError(ValueError):
    """The URL may not be called: wrong scheme, no host, or a private/loopback/link-local address."""


def check_url(url: str, *, allow_private: bool = False, allow_http: bool | None = None,
              resolve: bool = True) -> str:
    """Return `url` when it is safe to call, else raise UnsafeURLError with the reason.

    `allow_http` defaults to `allow_private`: plain http is only for the sandbox and tests.
    With `resolve`, every address the host resolves to is checked (a public name that points
    at 127.0.0.1 is still refused).
    """
    if allow_http is None:
        allow_http = allow_private
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    if scheme not in ("https", "http", "ldap", "ldaps"):
        raise UnsafeURLError(f"{url!r}: only https URLs are allowed")
    if scheme in ("http", "ldap") and not allow_http:
        raise UnsafeURLError(f"{url!r}: plain {scheme} is not allowed; use {scheme}s")
    host = parts.hostname
    if not host:
        raise UnsafeURLError(f"{url!r}: the URL has no host")
    if allow_private:
        return url
    for address in _addresses(host, resolve):
        if _is_private(address):
            raise UnsafeURLError(
                f"{url!r}: {host} is a private, loopback or link-local address ({address})")
    return url


def _addresses(host: str, resolve: bool) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return ["127.0.0.1"]
    if not resolve:
        return []
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise UnsafeURLError(f"{host}: the name does not resolve ({exc.strerror})") from exc
    return sorted({info[4][0] for info in infos})


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)
