"""Who is calling and what they may do: Connect JWT, Basic API token, OAuth bearer, org key."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import jwt
from atlassian_jwt.url_utils import hash_url

from .clock import Clock
from .connect import Installations
from .oauth import AuthServer
from .site import Site
from .spec import Operation

ADMIN_CONNECT_SCOPES = {"ADMIN", "INACCESSIBLE", None}
# The Confluence file names no OAuth scope on a few group reads; these follow their siblings.
FALLBACK_OAUTH = {"confluence": {"get": "read:confluence-groups"},
                  "jira": {"get": "read:jira-user"}}


class Denied(Exception):
    """Authentication (401) or authorisation (403) failure with a clear message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Principal:
    kind: str  # none | jwt | basic | oauth | org-key | forge | forge-user
    credential: str  # stable id for rate limiting, never the secret itself
    account_id: str | None = None
    scopes: frozenset[str] = frozenset()
    app_key: str | None = None


ANONYMOUS = Principal("none", "anonymous")


def signed_claims(token: str, key: Any, algorithm: str, clock: Clock, *, invalid: str,
                  expired: str, issuer: str | None = None) -> dict[str, Any]:
    """The claims of a token verified with `key`; `exp` is checked on the sandbox clock, which
    tests move, so PyJWT's own wall-clock checks are off. Failures are 401 with the caller's
    wording (`invalid` is followed by PyJWT's reason)."""
    try:
        claims = jwt.decode(token, key, algorithms=[algorithm], issuer=issuer,
                            options={"verify_exp": False, "verify_aud": False,
                                     "verify_iat": False})
    except jwt.PyJWTError as exc:
        raise Denied(401, f"{invalid}: {exc}") from exc
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= clock.now():
        raise Denied(401, expired)
    return claims


def connect_jwt(token: str, method: str, relative_url: str, installations: Installations,
                clock: Clock, product_hint: str = "jira") -> Principal:
    """Verify an app→product JWT: known iss, enabled, HS256 signature, exp, then qsh."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Denied(401, f"JWT is malformed: {exc}") from exc
    # a Confluence path is Confluence's installation; each product holds its own shared secret
    product = product_hint
    app = installations.get(str(unverified.get("iss", "")), product)
    if app is None:
        raise Denied(401, f"JWT iss is not the key of an app installed in this site's {product}")
    if not app.enabled:
        raise Denied(401, f"App '{app.key}' is disabled on this site")
    if header.get("alg") != "HS256":
        raise Denied(401, "JWT must be signed with HS256")
    claims = signed_claims(token, app.shared_secret, "HS256", clock,
                           invalid="JWT signature is invalid",
                           expired="JWT is expired (or has no exp)")
    if claims.get("qsh") != hash_url(method, relative_url):
        raise Denied(401, "JWT qsh does not match the request")
    return Principal("jwt", f"jwt:{app.key}", app.account_id, app.scopes, app.key)


BASIC_REFUSED = "Basic authentication failed: unknown e-mail or API token"


def basic(header_value: str, site: Site, clock: Clock, *, via_gateway: bool = False) -> Principal:
    """E-mail and API token. A token created with scopes works only through the API gateway
    (api.atlassian.com/ex/...) and a classic one only on the site URL; the other way round
    Atlassian answers a bare 401, as for an unknown token (no hint which it was)."""
    try:
        email, _, token = base64.b64decode(header_value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Denied(401, "Basic credentials are malformed") from exc
    user = site.user_by_token(email, token, clock.now())
    if user is None or not user.is_active:
        raise Denied(401, BASIC_REFUSED)
    scoped = user.api_token_scopes is not None
    if scoped != via_gateway:
        raise Denied(401, BASIC_REFUSED)
    return Principal("basic", f"basic:{user.account_id}", user.account_id,
                     user.api_token_scopes or frozenset())


def oauth_bearer(token: str, auth_server: AuthServer, site: Site) -> Principal:
    access = auth_server.access_token(token)
    if access is None:
        raise Denied(401, "Unauthorized; the access token is invalid, expired or revoked")
    user = site.users.get(access.grant.account_id)
    if user is None or not user.is_active:
        raise Denied(401, "Unauthorized; the user behind this token has no access")
    return Principal("oauth", f"oauth:{access.grant.grant_id}", access.grant.account_id,
                     access.grant.scopes)


def authorize(principal: Principal, op: Operation, site: Site) -> None:
    """Raise Denied unless this principal may call this operation."""
    if principal.kind == "none":
        raise Denied(401, "Client must be authenticated to access this resource.")
    if principal.kind == "forge":
        from .forge_tokens import authorize_forge

        authorize_forge(principal, op, site)
        return
    if principal.kind == "jwt":
        _connect_scope(principal, op)
    elif principal.kind in ("oauth", "forge-user") or (principal.kind == "basic"
                                                         and principal.scopes):
        _oauth_scope(principal, op)  # a scoped API token is held to its scopes like OAuth
    elif principal.kind != "basic":
        raise Denied(401, f"{principal.kind} credentials are not accepted here")
    # reads closed to Connect apps (e.g. users/search) only need "Browse users and groups"
    admin_only = op.connect_scope in ADMIN_CONNECT_SCOPES and not (
        op.connect_scope == "INACCESSIBLE" and op.method == "get")
    if principal.kind != "jwt" and admin_only and not site.is_admin(principal.account_id):
        raise Denied(403, "You do not have the Administer Jira global permission "
                          "(site-admin rights) needed for this operation.")


def _connect_scope(principal: Principal, op: Operation) -> None:
    needed = op.connect_scope
    if needed in (None, "INACCESSIBLE"):
        raise Denied(403, f"{op.key} is not accessible to Connect apps "
                          "(x-atlassian-connect-scope INACCESSIBLE); use a site-admin "
                          "credential (API token or OAuth 2.0) for this operation.")
    if needed not in principal.scopes:
        raise Denied(403, f"The app '{principal.app_key}' has not been granted the "
                          f"{needed} scope needed for {op.key}.")


def _oauth_scope(principal: Principal, op: Operation) -> None:
    alternatives = op.oauth_scope_sets
    if alternatives is None:
        alternatives = [{FALLBACK_OAUTH[op.spec.name].get(op.method, "")}]
    if not any(s <= principal.scopes for s in alternatives):
        wanted = " or ".join(" ".join(sorted(s)) for s in alternatives if s)
        raise Denied(401, f"Unauthorized; scope does not match (needs {wanted})")
