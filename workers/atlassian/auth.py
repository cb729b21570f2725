"""The auth modes, one per class of operation: Connect JWT, OAuth bearer, API token, org API key."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from requests import PreparedRequest
from requests.auth import AuthBase, HTTPBasicAuth

from workers.atlassian.connect_jwt import ConnectJWTAuth
from workers.atlassian.http import RenewableAuth

DEFAULT_API_BASE = "https://api.atlassian.com"
DEFAULT_AUTH_BASE = "https://auth.atlassian.com"


@dataclass(frozen=True, slots=True)
class AtlassianHosts:
    """Where api.atlassian.com and auth.atlassian.com live (the sandbox plays both on loopback)."""

    api_base: str = DEFAULT_API_BASE
    auth_base: str = DEFAULT_AUTH_BASE

    def product_gateway(self, product: str, cloud_id: str) -> str:
        """The base of OAuth calls to one site: `{api}/ex/jira/{cloudId}` or `.../ex/confluence/...`."""
        return f"{self.api_base.rstrip('/')}/ex/{product}/{cloud_id}"


class BearerAuth(AuthBase):
    """A fixed bearer token (the organization API key)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class TokenSource(Protocol):
    """Gives a currently valid OAuth access token; `renew(stale)` replaces one the site refused."""

    def access_token(self) -> str: ...

    def renew(self, stale: str) -> str: ...


class OAuthBearerAuth(RenewableAuth):
    """Bearer auth from a TokenSource; a 401 makes the transport call `renew()` once."""

    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens
        self._sent = threading.local()  # per thread: which token this thread's request carried

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        self._sent.token = self.tokens.access_token()
        request.headers["Authorization"] = f"Bearer {self._sent.token}"
        return request

    def renew(self) -> None:
        self.tokens.renew(getattr(self._sent, "token", ""))


def api_token_auth(email: str, api_token: str) -> AuthBase:
    """HTTP Basic e-mail:API-token of a site-admin account, sent to the site URL."""
    return HTTPBasicAuth(email, api_token)


def connect_auth(app_key: str, shared_secret: str, product_base_url: str) -> AuthBase:
    """The app's own Connect JWT (reads); `product_base_url` is the installation's baseUrl."""
    return ConnectJWTAuth(app_key, shared_secret, product_base_url)
