"""Forge Invocation Token (FIT) verification: an explicit ordered list of checks, each failure a
specific message. Forge reserves 401 for a failed FIT, so only this module's refusals answer 401."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from app.forge.jwks import ForgeKeys

ISSUER = "forge/invocation-token"
ALGORITHM = "RS256"
LEEWAY = 30
"""Seconds of clock skew accepted on exp, nbf and iat."""
MAX_LIFETIME = 600
"""A FIT lives about a minute; one claiming longer than this (exp - iat) is refused."""
APP_ARI_PREFIX = "ari:cloud:ecosystem::app/"


class FITRejected(Exception):
    """The Forge Invocation Token failed a check; `message` says which (answered with 401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Invocation:
    """What a verified FIT says about the call: app, installation, site and (UI calls) user."""

    app_id: str
    installation_id: str
    api_base_url: str
    cloud_id: str | None
    product: str
    environment: str | None
    module_type: str | None
    module_key: str | None
    site_url: str | None
    principal: str | None
    connect_client_key: str | None
    jti: str | None
    expires_at: int
    claims: dict[str, Any] = field(repr=False, default_factory=dict)


def bearer_token(header_value: str | None) -> str:
    scheme, _, token = (header_value or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FITRejected("a Forge Invocation Token is required (Authorization: Bearer <FIT>)")
    return token.strip()


def verify(header_value: str | None, keys: ForgeKeys, app_id: str, *,
           now: float | None = None, leeway: int = LEEWAY,
           max_lifetime: int = MAX_LIFETIME) -> Invocation:
    """Check the Authorization header's FIT and return what it says; FITRejected otherwise."""
    if not app_id:
        raise FITRejected("USERSYNC_FORGE_APP_ID is not set: no Forge app is trusted")
    token = bearer_token(header_value)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise FITRejected(f"the FIT is malformed: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise FITRejected(f"the FIT must be signed with {ALGORITHM}, not {header.get('alg')!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise FITRejected("the FIT header has no kid")
    key = keys.key(kid)
    if key is None:
        raise FITRejected(f"the FIT kid {kid!r} is not one of Forge's published keys")
    claims = _decode(token, key, app_id, now, leeway)
    lifetime = claims["exp"] - claims["iat"]
    if lifetime > max_lifetime:
        raise FITRejected(f"the FIT claims a lifetime of {int(lifetime)} s, more than {max_lifetime} s")
    return _invocation(claims, app_id)


def _decode(token: str, key: Any, app_id: str, now: float | None, leeway: int) -> dict[str, Any]:
    # the time claims are checked below, against `now`, so that every failure has its message
    options = {"require": ["exp", "iat", "iss", "aud"], "verify_exp": False,
               "verify_nbf": False, "verify_iat": False}
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=app_id, issuer=ISSUER,
                            options=options)
    except jwt.InvalidAudienceError as exc:
        raise FITRejected(f"the FIT audience is not this app ({app_id})") from exc
    except jwt.InvalidIssuerError as exc:
        raise FITRejected(f"the FIT issuer is not {ISSUER}") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise FITRejected(f"the FIT has no {exc.claim} claim") from exc
    except jwt.InvalidSignatureError as exc:
        raise FITRejected("the FIT signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise FITRejected(f"the FIT is invalid: {exc}") from exc
    current = time.time() if now is None else now
    for name in ("exp", "iat", "nbf"):
        if name in claims and not isinstance(claims[name], int | float):
            raise FITRejected(f"the FIT {name} claim is not a number")
    if claims["exp"] + leeway <= current:
        raise FITRejected("the FIT has expired")
    if claims.get("nbf", claims["iat"]) - leeway > current:
        raise FITRejected("the FIT is not valid yet (nbf/iat in the future)")
    if claims["iat"] - leeway > current:
        raise FITRejected("the FIT was issued in the future (iat)")
    return claims


def _invocation(claims: dict[str, Any], app_id: str) -> Invocation:
    app = claims.get("app")
    if not isinstance(app, dict):
        raise FITRejected("the FIT has no app claim")
    if app.get("id") != app_id:
        raise FITRejected("the FIT app.id is not this app")
    installation_id = app.get("installationId")
    if not isinstance(installation_id, str) or not installation_id:
        raise FITRejected("the FIT has no app.installationId")
    api_base_url, cloud_id = _site(app)
    if not api_base_url:
        raise FITRejected("the FIT has no app.apiBaseUrl")
    context = claims.get("context") if isinstance(claims.get("context"), dict) else {}
    environment = app.get("environment") if isinstance(app.get("environment"), dict) else {}
    module = app.get("module") if isinstance(app.get("module"), dict) else {}
    principal = claims.get("principal")
    return Invocation(
        app_id=app_id, installation_id=installation_id, api_base_url=api_base_url.rstrip("/"),
        cloud_id=_text(context.get("cloudId")) or cloud_id, product=product_of(api_base_url),
        environment=_text(environment.get("type")), module_type=_text(module.get("type")),
        module_key=_text(module.get("key")), site_url=_text(context.get("siteUrl")),
        principal=principal if isinstance(principal, str) and principal else None,
        connect_client_key=_connect_client_key(claims, app, context),
        jti=_text(claims.get("jti")), expires_at=int(claims["exp"]), claims=claims)


def _site(app: dict[str, Any]) -> tuple[str | None, str | None]:
    """apiBaseUrl and cloudId: the app claim's own, else the first installation context's."""
    installation = app.get("installation") if isinstance(app.get("installation"), dict) else {}
    contexts = [c for c in installation.get("contexts") or [] if isinstance(c, dict)]
    first = contexts[0] if contexts else {}
    return (_text(app.get("apiBaseUrl")) or _text(first.get("apiBaseUrl")),
            _text(first.get("cloudId")))


def _connect_client_key(claims: dict[str, Any], app: dict[str, Any],
                        context: dict[str, Any]) -> str | None:
    """The Connect clientKey Forge carries for apps with app.connect.key (while Connect lasts)."""
    for holder in (app.get("connect"), context.get("connect"), claims.get("connect")):
        if isinstance(holder, dict) and _text(holder.get("clientKey")):
            return _text(holder.get("clientKey"))
    return _text(claims.get("clientKey")) or _text(app.get("clientKey"))


def product_of(api_base_url: str) -> str:
    return "confluence" if "/ex/confluence/" in api_base_url else "jira"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
