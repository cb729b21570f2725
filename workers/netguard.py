"""Checks an outbound URL before we call it: https only, and no address that is not public
unless allowed; `resolve_checked` gives the one address to connect to, so a name cannot be
re-pointed (DNS rebinding) between the check and the connection."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.ip_network("64:ff9b::/96")
"""RFC 6052 well-known NAT64 prefix: the last 32 bits are an IPv4 address, checked as such."""
BLOCKED_V6 = (
    ipaddress.ip_network("2002::/16"),       # 6to4 (deprecated, RFC 7526): relays reach any IPv4
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215): private by definition
    ipaddress.ip_network("::/96"),           # IPv4-compatible (deprecated, RFC 4291)
)

Resolver = Callable[..., list]
"""socket.getaddrinfo's shape; tests swap in a stub (a resolver that changes its answer)."""


class UnsafeURLError(ValueError):
    """The URL may not be called: wrong scheme, no host, or an address that is not public."""


def check_url(url: str, *, allow_private: bool = False, allow_http: bool | None = None,
              resolve: bool = True) -> str:
    """Return `url` when it is safe to call, else raise UnsafeURLError with the reason.

    `allow_http` defaults to `allow_private`: plain http is only for the sandbox and tests.
    With `resolve`, every address the host resolves to is checked (a public name that points
    at 127.0.0.1 is still refused). The connection itself must then use `resolve_checked`
    (the HTTP layers' PinnedAdapter does), or the name could resolve anew to another address.
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
    literal = _literal(host)
    if literal is not None:
        _refuse_blocked(host, literal)
    elif _is_localhost(host):
        raise UnsafeURLError(f"{url!r}: {host} is a loopback name")
    elif resolve:
        resolve_checked(host, None)
    return url


def resolve_checked(host: str, port: int | None, *, allow_private: bool = False,
                    resolver: Resolver | None = None) -> str:
    """The one address to connect to for `host`: resolved once, every answer checked.

    Any answer that is not a public address refuses the host (a name that also points
    inside is not trusted with the other answer either); with `allow_private` nothing is
    refused, but the address is still fixed here so a check and its connection agree.
    """
    literal = _literal(host)
    if literal is not None:
        if not allow_private:
            _refuse_blocked(host, literal)
        return str(literal)
    if _is_localhost(host):
        if not allow_private:
            raise UnsafeURLError(f"{host} is a loopback name")
        return "127.0.0.1"
    lookup = resolver or socket.getaddrinfo
    try:
        infos = lookup(host, port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(host, getattr(exc, "strerror", None) or str(exc)) from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnresolvableHost(host, "no address")
    if not allow_private:
        for address in addresses:
            _refuse_blocked(host, address)
    return str(addresses[0])


class UnresolvableHost(UnsafeURLError):
    """The name has no address (a connection failure, not a policy refusal)."""

    def __init__(self, host: str, reason: str):
        super().__init__(f"{host}: the name does not resolve ({reason})")
        self.host = host


def is_blocked(address: IPAddress) -> bool:
    """True for every address that is not public: private, loopback, link-local, shared
    (100.64.0.0/10, cloud metadata), reserved, multicast, and IPv6 forms that carry one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_blocked(address.ipv4_mapped)
        if address in NAT64:
            return is_blocked(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(address in net for net in BLOCKED_V6):
            return True
    return not address.is_global or address.is_multicast


def _refuse_blocked(host: str, address: IPAddress) -> None:
    if is_blocked(address):
        raise UnsafeURLError(f"{host} is not a public address ({address}): private, loopback, "
                             f"link-local, shared and reserved addresses are refused")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _is_localhost(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")
