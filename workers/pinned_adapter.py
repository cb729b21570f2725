"""A requests transport adapter that connects to the address `netguard` checked, not a new lookup.

requests resolves a host name when it opens a connection; a name checked a moment earlier
can by then point elsewhere (DNS rebinding: public for the check, 169.254.169.254 for the
call). This adapter resolves once per request through `netguard.resolve_checked` and opens
the connection to that address, while the Host header, TLS SNI and certificate check still
use the name, so https verification is unchanged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest
from requests.adapters import HTTPAdapter
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.utils import select_proxy
from urllib3 import HTTPConnectionPool

from workers.netguard import Resolver, UnresolvableHost, resolve_checked

DEFAULT_PORTS = {"http": 80, "https": 443}


class PinnedAdapter(HTTPAdapter):
    """HTTPAdapter whose connections go to the checked address of each request's host.

    `allow_private` lets loopback and private addresses through (sandbox and tests); the
    address is pinned either way. A refused address raises `netguard.UnsafeURLError`; a name
    that does not resolve raises requests' ConnectionError, as an unpinned lookup would.
    Behind a proxy the proxy resolves the name, so only the check is made here.
    """

    def __init__(self, *, allow_private: bool = False, resolver: Resolver | None = None,
                 **kwargs: Any) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        super().__init__(**kwargs)

    def get_connection_with_tls_context(self, request: PreparedRequest, verify: Any,
                                        proxies: dict[str, str] | None = None,
                                        cert: Any = None) -> HTTPConnectionPool:
        parts = urlsplit(request.url or "")
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        address = self._address(host, parts.port or DEFAULT_PORTS.get(scheme))
        if select_proxy(request.url, proxies) or address == host.strip("[]"):
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = address
        if scheme == "https":
            # SNI and the certificate check are for the name, not the address we dial
            pool_kwargs["server_hostname"] = host
            pool_kwargs["assert_hostname"] = host
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def add_headers(self, request: PreparedRequest, **kwargs: Any) -> None:
        # the pool's host is the address; the server must still see the name it serves
        if "Host" not in request.headers:
            netloc = urlsplit(request.url or "").netloc.rsplit("@", 1)[-1]
            scheme = urlsplit(request.url or "").scheme.lower()
            default = f":{DEFAULT_PORTS.get(scheme)}"
            request.headers["Host"] = netloc[:-len(default)] if netloc.endswith(default) else netloc

    def _address(self, host: str, port: int | None) -> str:
        try:
            return resolve_checked(host, port, allow_private=self.allow_private,
                                   resolver=self.resolver)
        except UnresolvableHost as exc:
            raise RequestsConnectionError(f"Failed to resolve {host!r} ({exc}): "
                                          f"Name or service not known") from exc



def mount(session: Any, adapter: PinnedAdapter) -> None:
    """Use `adapter` for every http and https URL of a requests session."""
    session.mount("http://", adapter)
    session.mount("https://", adapter)
