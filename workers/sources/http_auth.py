"""How the shared HTTP layer authorises requests: static headers, cached OAuth tokens, client credentials."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.jwk import RSAKey

from workers.sources.base import SourceAuthError, SourceConfigError, SourceError
from workers.sources.http_errors import response_detail

if TYPE_CHECKING:
    from workers.sources.http import HttpClient


class Auth:
    """How requests are authorised. The base class sends nothing (anonymous)."""

    def headers(self, client: HttpClient, method: str, url: str) -> dict[str, str]:
        """Headers to add to one request (called for every attempt)."""
        return {}

    def refresh(self, client: HttpClient, seen_generation: int) -> bool:
        """Called after a 401; return True when a retry with new credentials is worthwhile."""
        return False

    @property
    def generation(self) -> int:
        """Bumped on every new token, so concurrent 401s refresh only once."""
        return 0


class StaticAuth(Auth):
    """A fixed Authorization header: `SSWS <token>`, `Bearer <token>`, `Basic ...`."""

    def __init__(self, authorization: str, extra: dict[str, str] | None = None):
        self._headers = {"Authorization": authorization, **(extra or {})}

    def headers(self, client: HttpClient, method: str, url: str) -> dict[str, str]:
        return dict(self._headers)


@dataclass
class Token:
    """An access token and the monotonic time after which it must not be used."""

    value: str
    expires_at: float
    token_type: str = "Bearer"

    def usable(self, now: float) -> bool:
        return now < self.expires_at


class TokenAuth(Auth):
    """Base of OAuth-style auth: caches the token until expiry, refreshes once per 401.

    Subclasses implement `request_token(client) -> Token` (normally one POST through
    `client.post_token`, so the token call is counted, guarded and retried like any other).
    """

    def __init__(self) -> None:
        self._token: Token | None = None
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def request_token(self, client: HttpClient) -> Token:
        raise NotImplementedError

    def token(self, client: HttpClient) -> Token:
        with self._lock:
            if self._token is None or not self._token.usable(time.monotonic()):
                self._token = self.request_token(client)
                self._generation += 1
            return self._token

    def headers(self, client: HttpClient, method: str, url: str) -> dict[str, str]:
        token = self.token(client)
        return {"Authorization": f"{token.token_type} {token.value}"}

    def refresh(self, client: HttpClient, seen_generation: int) -> bool:
        with self._lock:
            if self._generation == seen_generation:
                self._token = None  # another thread may already have replaced it
        return True


def token_from_response(body: dict[str, Any], margin: float = 30.0) -> Token:
    """A Token from an OAuth token response; expiry kept `margin` seconds early."""
    if not isinstance(body, dict) or not body.get("access_token"):
        raise SourceAuthError("The token endpoint answered without an access_token.")
    lifetime = float(body.get("expires_in") or 300)
    token_type = str(body.get("token_type") or "Bearer")
    if token_type.lower() == "bearer":
        token_type = "Bearer"
    return Token(str(body["access_token"]), time.monotonic() + max(lifetime - margin, 1.0),
                 token_type)


class ClientCredentialsAuth(TokenAuth):
    """OAuth 2.0 client credentials, with a client secret or a private_key_jwt assertion.

    `secret_style` is "post" (client_id/secret in the form, Keycloak and Entra) or "basic"
    (HTTP Basic, Oracle). With `private_key` (PEM) the client authenticates with an RS256
    assertion signed through authlib (iss = sub = client_id, aud = token URL);
    `assertion_header` adds JOSE header fields (Entra wants the certificate's x5t).
    """

    def __init__(self, token_url: str, client_id: str, *, client_secret: str | None = None,
                 private_key: str | None = None, key_id: str | None = None,
                 scope: str | None = None, secret_style: str = "post",
                 extra_form: dict[str, str] | None = None,
                 assertion_header: dict[str, str] | None = None):
        super().__init__()
        self.assertion_header = assertion_header or {}
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.private_key = private_key
        self.key_id = key_id
        self.scope = scope
        self.secret_style = secret_style
        self.extra_form = extra_form or {}

    def form(self) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The token request form and optional Basic credentials."""
        form = {"grant_type": "client_credentials", **self.extra_form}
        if self.scope:
            form["scope"] = self.scope
        if self.private_key:
            form["client_id"] = self.client_id
            form["client_assertion_type"] = (
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            form["client_assertion"] = self.assertion()
            return form, None
        if self.secret_style == "basic":
            return form, (self.client_id, self.client_secret or "")
        form["client_id"] = self.client_id
        form["client_secret"] = self.client_secret or ""
        return form, None

    def assertion(self) -> str:
        header = {"alg": "RS256", **({"kid": self.key_id} if self.key_id else {}),
                  **self.assertion_header}
        try:
            key = RSAKey.import_key(self.private_key or "")
            signed = private_key_jwt_sign(key, self.client_id, self.token_url,
                                          header=header, expires_in=300)
        except (ValueError, TypeError) as exc:
            raise SourceConfigError(f"The private key cannot sign a client assertion: {exc}."
                                    ) from None
        return signed.decode() if isinstance(signed, bytes) else signed

    def request_token(self, client: HttpClient) -> Token:
        form, basic = self.form()
        response = client.post_token(self.token_url, form, auth=basic)
        if response.status_code >= 300:
            raise self.token_error(client, response)
        return token_from_response(client.decode(response))

    def token_error(self, client: HttpClient, response: requests.Response) -> SourceError:
        """Explain a refused token request (400/401 from the token endpoint)."""
        return SourceAuthError(f"{client.label} refused to issue a token for client "
                               f"{self.client_id!r} ({response.status_code})"
                               f"{response_detail(response)}: check the client id and its "
                               f"secret or key.")


class RefreshingClientCredentials(ClientCredentialsAuth):
    """Client credentials whose refresh drops exactly the token this thread was refused with.

    The shared layer decides by token generation, read before the first token exists; a 401
    on the very first request would then retry with the same dead token.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sent = threading.local()

    def headers(self, client: HttpClient, method: str, url: str) -> dict[str, str]:
        token = self.token(client)
        self._sent.value = token.value
        return {"Authorization": f"{token.token_type} {token.value}"}

    def refresh(self, client: HttpClient, seen_generation: int) -> bool:
        with self._lock:
            if self._token is not None and self._token.value == getattr(self._sent, "value", None):
                self._token = None  # still the refused one: the next caller fetches a new one
        return True
