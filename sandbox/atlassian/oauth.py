"""The sandbox auth.atlassian.com: OAuth 2.0 (3LO) codes, access tokens and rotating refresh tokens."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .clock import Clock

CODE_LIFETIME = 600.0
# Atlassian's rotating refresh tokens (developer.atlassian.com, "OAuth 2.0 (3LO) apps",
# refresh token rotation): a rotated-out token may be reused for 10 minutes; reusing it after
# that invalidates the whole grant; a refresh token dies after 90 days unused, and every token
# of a grant after 365 days.
REUSE_INTERVAL = 600.0
IDLE_LIFETIME = 90 * 86400.0
ABSOLUTE_LIFETIME = 365 * 86400.0
# Atlassian's documented answer for an unknown, expired, revoked or rotated-out refresh token
INVALID_REFRESH = ("invalid_grant", "Unknown or invalid refresh token.")


class OAuthError(Exception):
    """An OAuth error answer: HTTP status and the RFC 6749 error body."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.body = status, {"error": error, "error_description": description}


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class Grant:
    """One user's consent to one client: the tokens issued under it die with it."""

    grant_id: str
    client_id: str
    account_id: str
    scopes: frozenset[str]
    created_at: float = 0.0
    revoked: bool = False


@dataclass
class RefreshToken:
    grant: Grant
    issued_at: float = 0.0
    rotated_at: float | None = None


@dataclass
class AccessToken:
    grant: Grant
    expires_at: float


@dataclass
class AuthServer:
    """Clients, consents and tokens; `expires_in` and `reuse_interval` are seconds."""

    clock: Clock
    consenting_account_id: str | None = None
    expires_in: int = 3600
    reuse_interval: float = REUSE_INTERVAL
    idle_lifetime: float = IDLE_LIFETIME
    absolute_lifetime: float = ABSOLUTE_LIFETIME
    clients: dict[str, Client] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    _codes: dict[str, tuple[Grant, str, float]] = field(default_factory=dict)
    _access: dict[str, AccessToken] = field(default_factory=dict)
    _refresh: dict[str, RefreshToken] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register_client(self, client_id: str, client_secret: str,
                        redirect_uris: list[str]) -> Client:
        with self._lock:
            client = Client(client_id, client_secret, list(redirect_uris))
            self.clients[client_id] = client
            return client

    def authorize(self, args: dict[str, str]) -> str:
        """Approve consent for the configured admin and return the redirect location."""
        client = self.clients.get(args.get("client_id", ""))
        if client is None:
            raise OAuthError(400, "invalid_request", "Unknown client_id.")
        redirect_uri = args.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise OAuthError(400, "invalid_request", "redirect_uri does not match the app.")
        if args.get("response_type") != "code":
            raise OAuthError(400, "unsupported_response_type", "response_type must be code.")
        scopes = frozenset(args.get("scope", "").split())
        if not scopes:
            raise OAuthError(400, "invalid_scope", "scope is required.")
        if self.consenting_account_id is None:
            raise OAuthError(400, "access_denied", "No site admin is signed in.")
        code = secrets.token_urlsafe(24)
        with self._lock:
            grant = Grant(secrets.token_hex(8), client.client_id, self.consenting_account_id,
                          scopes, created_at=self.clock.now())
            self.grants[grant.grant_id] = grant
            self._codes[code] = (grant, redirect_uri, self.clock.now() + CODE_LIFETIME)
        query = {"code": code}
        if "state" in args:
            query["state"] = args["state"]
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(query)}"

    def token(self, form: dict[str, str]) -> dict[str, object]:
        """The /oauth/token endpoint for authorization_code and refresh_token grants."""
        client = self.clients.get(form.get("client_id", ""))
        if client is None or not secrets.compare_digest(
                client.client_secret, form.get("client_secret", "")):
            raise OAuthError(401, "access_denied", "Unauthorized")
        kind = form.get("grant_type")
        if kind == "authorization_code":
            return self._exchange_code(client, form)
        if kind == "refresh_token":
            return self._rotate(client, form.get("refresh_token", ""))
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant_type: {kind}")

    def _exchange_code(self, client: Client, form: dict[str, str]) -> dict[str, object]:
        with self._lock:
            entry = self._codes.pop(form.get("code", ""), None)
            if entry is None or entry[0].client_id != client.client_id \
                    or entry[2] < self.clock.now() or entry[0].revoked:
                raise OAuthError(403, "invalid_grant", "Invalid authorization code")
            if form.get("redirect_uri") != entry[1]:
                raise OAuthError(403, "invalid_grant", "redirect_uri does not match")
            return self._issue(entry[0])

    def _rotate(self, client: Client, token: str) -> dict[str, object]:
        now = self.clock.now()
        with self._lock:
            entry = self._refresh.get(token)
            if entry is None or entry.grant.revoked or entry.grant.client_id != client.client_id:
                raise OAuthError(403, *INVALID_REFRESH)
            if now - entry.issued_at > self.idle_lifetime or \
                    now - entry.grant.created_at > self.absolute_lifetime:
                raise OAuthError(403, *INVALID_REFRESH)
            # a rotated token stays usable briefly, so two racing workers do not lose the grant;
            # a reuse after that looks like a stolen token: the whole grant is invalidated
            if entry.rotated_at is not None and now - entry.rotated_at > self.reuse_interval:
                entry.grant.revoked = True
                raise OAuthError(403, *INVALID_REFRESH)
            if entry.rotated_at is None:
                entry.rotated_at = now
            return self._issue(entry.grant)

    def _issue(self, grant: Grant) -> dict[str, object]:
        access = secrets.token_urlsafe(32)
        self._access[access] = AccessToken(grant, self.clock.now() + self.expires_in)
        body: dict[str, object] = {"access_token": access, "token_type": "Bearer",
                                   "expires_in": self.expires_in,
                                   "scope": " ".join(sorted(grant.scopes))}
        if "offline_access" in grant.scopes:
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = RefreshToken(grant, issued_at=self.clock.now())
            body["refresh_token"] = refresh
        return body

    def access_token(self, token: str) -> AccessToken | None:
        """The live access token behind a Bearer value, or None (unknown, expired, revoked)."""
        with self._lock:
            entry = self._access.get(token)
        if entry is None or entry.grant.revoked or entry.expires_at <= self.clock.now():
            return None
        return entry

    def revoke(self, *, client_id: str | None = None, account_id: str | None = None) -> int:
        """Revoke every grant of a client and/or user; returns how many were revoked."""
        with self._lock:
            hits = [g for g in self.grants.values()
                    if (client_id is None or g.client_id == client_id)
                    and (account_id is None or g.account_id == account_id)]
            for grant in hits:
                grant.revoked = True
            return len(hits)

