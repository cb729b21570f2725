"""Verifies Connect JWTs: the RS256 signed install, and the HS256 product → app requests.

Each is an explicit ordered list of checks; each failure names what was wrong and never
anything about a secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from app.connect.install_keys import InstallKeys, KeyServerUnavailable, UnknownKey
from app.connect.qsh import CONTEXT_QSH, qsh, relative_url


class JWTRejected(Exception):
    """The request's token fails a check; `status` is 401 except for our own outages (503)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """What verification needs of an HTTP request, independent of Flask."""

    method: str
    url: str
    authorization: str | None
    query_jwt: str | None = None


def extract_token(req: IncomingRequest) -> str:
    header = req.authorization or ""
    if header.startswith("JWT "):
        return header[4:].strip()
    if req.query_jwt:
        return req.query_jwt
    raise JWTRejected("missing JWT: expected 'Authorization: JWT <token>' or a jwt query parameter")


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise JWTRejected("malformed JWT") from exc


def _expected_qsh(req: IncomingRequest, base_url: str) -> str:
    return qsh(req.method, relative_url(req.url, base_url))


def verify_install(req: IncomingRequest, body: bytes, *, keys: InstallKeys, base_url: str,
                   leeway: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a signed lifecycle call; returns (claims, payload) or raises JWTRejected."""
    token = extract_token(req)
    header = _header(token)
    if header.get("alg") != "RS256":
        raise JWTRejected("lifecycle calls must be signed with RS256 (signed install)")
    try:
        pem = keys.get(header.get("kid", ""))
    except UnknownKey as exc:
        raise JWTRejected(f"unknown signing key: {exc}") from exc
    except KeyServerUnavailable as exc:
        raise JWTRejected(f"cannot verify the install right now: {exc}", status=503) from exc
    try:
        claims = jwt.decode(token, pem, algorithms=["RS256"], leeway=leeway,
                            options={"verify_aud": False, "require": ["exp", "iss", "qsh", "aud"]})
    except jwt.ExpiredSignatureError as exc:
        raise JWTRejected("the install token has expired") from exc
    except jwt.PyJWTError as exc:
        raise JWTRejected(f"the install token is invalid: {exc}") from exc
    audience = claims["aud"][0] if isinstance(claims["aud"], list) and claims["aud"] else claims["aud"]
    if not isinstance(audience, str) or audience.rstrip("/") != base_url.rstrip("/"):
        raise JWTRejected("the install token's audience is not this app's base URL")
    if claims["qsh"] != _expected_qsh(req, base_url):
        raise JWTRejected("the install token's query string hash does not match the request")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JWTRejected("the lifecycle body is not JSON", status=400) from exc
    if not isinstance(payload, dict):
        raise JWTRejected("the lifecycle body is not a JSON object", status=400)
    if claims["iss"] != payload.get("clientKey"):
        raise JWTRejected("the install token's issuer is not the body's clientKey")
    return claims, payload


def verify_request(req: IncomingRequest, *, secret_for: Callable[[str], str | None],
                   base_url: str, leeway: int, allow_context_qsh: bool) -> dict[str, Any]:
    """Check a product → app call signed with the tenant's shared secret; returns the claims.

    `secret_for(iss)` returns the tenant's shared secret, or None when the issuer is unknown
    or not enabled.
    """
    token = extract_token(req)
    if _header(token).get("alg") != "HS256":
        raise JWTRejected("unsupported JWT algorithm: product requests must use HS256")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise JWTRejected("malformed JWT") from exc
    issuer = unverified.get("iss")
    secret = secret_for(issuer) if isinstance(issuer, str) else None
    if secret is None:
        raise JWTRejected("unknown issuer: no enabled installation has this client key")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=leeway,
                            options={"verify_aud": False, "require": ["exp", "iat", "iss", "qsh"]})
    except jwt.ExpiredSignatureError as exc:
        raise JWTRejected("the token has expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise JWTRejected("the token's signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise JWTRejected(f"the token is invalid: {exc}") from exc
    if claims["qsh"] == CONTEXT_QSH:
        if not allow_context_qsh:
            raise JWTRejected("a context token (context-qsh) is not accepted on this route")
    elif claims["qsh"] != _expected_qsh(req, base_url):
        raise JWTRejected("the query string hash does not match the request")
    return claims
