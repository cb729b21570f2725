"""Verifies Connect JWTs: the RS256 signed install, and the HS256 product → app requests.

Each is an explicit ordered list of checks over the token and the request line only; the
body, which no Connect token signs, is read afterwards (`lifecycle_payload`). Each failure
says what was wrong, never anything about a secret, and never whether a tenant exists: an
unknown client key and a bad signature get the same answer (the precise reason is logged).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from app.connect.install_keys import InstallKeys, KeyServerUnavailable, UnknownKey
from workers.atlassian.qsh import CONTEXT_QSH, qsh, relative_url

NOT_VERIFIED = "the token could not be verified"
DEFAULT_MAX_LIFETIME = 900  # seconds; Atlassian's tokens live minutes


class JWTRejected(Exception):
    """The request's token fails a check; `status` is 401 except for our own outages (503).

    `message` is what the caller is told; `detail`, for our logs only, may say more.
    """

    def __init__(self, message: str, status: int = 401, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail or message


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


def check_lifetime(claims: dict[str, Any], max_lifetime: int, what: str = "token") -> None:
    """`iat` and `exp` are whole numbers and exp − iat is no longer than Atlassian issues."""
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or isinstance(iat, bool) or not isinstance(exp, int) or isinstance(exp, bool):
        raise JWTRejected(f"the {what} must carry numeric iat and exp claims")
    if exp - iat > max_lifetime:
        raise JWTRejected(f"the {what} lives longer than {max_lifetime} seconds "
                          f"(exp − iat = {exp - iat}); Atlassian's tokens live minutes")


def verify_signed_install(req: IncomingRequest, *, keys: InstallKeys, base_url: str, leeway: int,
                          max_lifetime: int = DEFAULT_MAX_LIFETIME) -> tuple[str, dict[str, Any]]:
    """Check an `installed`/`uninstalled` token (RS256, Atlassian's install key); returns
    (token, claims) or raises JWTRejected. Reads nothing of the body."""
    token = extract_token(req)
    header = _header(token)
    if header.get("alg") != "RS256":
        raise JWTRejected("installed and uninstalled calls must be signed with RS256 (signed install)")
    try:
        pem = keys.get(header.get("kid", ""))
    except UnknownKey as exc:
        raise JWTRejected(f"unknown signing key: {exc}") from exc
    except KeyServerUnavailable as exc:
        raise JWTRejected(f"cannot verify the install right now: {exc}", status=503) from exc
    try:
        claims = jwt.decode(token, pem, algorithms=["RS256"], leeway=leeway,
                            options={"verify_aud": False,
                                     "require": ["exp", "iat", "iss", "qsh", "aud"]})
    except jwt.ExpiredSignatureError as exc:
        raise JWTRejected("the install token has expired") from exc
    except jwt.PyJWTError as exc:
        raise JWTRejected(f"the install token is invalid: {exc}") from exc
    check_lifetime(claims, max_lifetime, "install token")
    audience = claims["aud"][0] if isinstance(claims["aud"], list) and claims["aud"] else claims["aud"]
    if not isinstance(audience, str) or audience.rstrip("/") != base_url.rstrip("/"):
        raise JWTRejected("the install token's audience is not this app's base URL")
    if claims["qsh"] != _expected_qsh(req, base_url):
        raise JWTRejected("the install token's query string hash does not match the request")
    if not isinstance(claims["iss"], str) or not claims["iss"]:
        raise JWTRejected("the install token has no issuer")
    return token, claims


def lifecycle_payload(claims: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The body of a verified lifecycle call; its clientKey must be the token's issuer."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise JWTRejected("the lifecycle body is not JSON", status=400) from exc
    if not isinstance(payload, dict):
        raise JWTRejected("the lifecycle body is not a JSON object", status=400)
    if claims["iss"] != payload.get("clientKey"):
        raise JWTRejected("the token's issuer is not the body's clientKey")
    return payload


def verify_request(req: IncomingRequest, *, secret_for: Callable[[str], str | None],
                   base_url: str, leeway: int, allow_context_qsh: bool,
                   max_lifetime: int = DEFAULT_MAX_LIFETIME) -> dict[str, Any]:
    """Check a product → app call signed with the tenant's shared secret; returns the claims.

    `secret_for(iss)` returns the tenant's shared secret, or None when the issuer is unknown
    or not in a state this route serves.
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
        raise JWTRejected(NOT_VERIFIED, detail="unknown issuer: no installation in a state "
                                                "this route serves has this client key")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=leeway,
                            options={"verify_aud": False, "require": ["exp", "iat", "iss", "qsh"]})
    except jwt.InvalidSignatureError as exc:
        raise JWTRejected(NOT_VERIFIED, detail="the token's signature does not verify") from exc
    except jwt.ExpiredSignatureError as exc:
        raise JWTRejected("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise JWTRejected(f"the token is invalid: {exc}") from exc
    check_lifetime(claims, max_lifetime)
    if claims["qsh"] == CONTEXT_QSH:
        if not allow_context_qsh:
            raise JWTRejected("a context token (context-qsh) is not accepted on this route")
    elif claims["qsh"] != _expected_qsh(req, base_url):
        raise JWTRejected("the query string hash does not match the request")
    return claims
