"""SCIM endpoints and their bearer tokens: shown once, stored as SHA-256, several live, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.connection import Connection
from app.models.installation import utcnow
from app.models.scim import ScimEndpoint, ScimToken
from app.scim.text import storable

SCIM_KIND = "scim_push"
TOKEN_BYTES = 32
HINT_LENGTH = 8
# Recording every use would turn each read into a write; a coarse "last used" is enough.
LAST_USED_RESOLUTION = timedelta(minutes=10)


class TokenError(Exception):
    """The request cannot be done (no such connection, wrong kind, no such token)."""


@dataclass(frozen=True)
class IssuedToken:
    """A new token: `secret` is shown to the admin once and never stored."""

    id: int
    base_path: str
    secret: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def base_path(endpoint_id: str) -> str:
    return f"/scim/v2/{endpoint_id}"


def endpoint(session: Session, connection_id: int) -> ScimEndpoint:
    """The connection's SCIM endpoint, created on first use; the connection must be of kind scim_push."""
    connection = session.get(Connection, connection_id)
    if connection is None:
        raise TokenError(f"there is no connection {connection_id}")
    if connection.kind != SCIM_KIND:
        raise TokenError(f"connection {connection_id} is of kind {connection.kind!r}, not {SCIM_KIND!r}")
    found = session.scalar(select(ScimEndpoint).where(ScimEndpoint.connection_id == connection_id))
    if found is None:
        found = ScimEndpoint(connection_id=connection_id,
                             endpoint_id=secrets.token_urlsafe(18), created_at=utcnow())
        session.add(found)
        session.flush()
    return found


def create(session: Session, connection_id: int) -> IssuedToken:
    """Issue a new token; older ones stay valid until revoked (rotation without downtime)."""
    where = endpoint(session, connection_id)
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    token = ScimToken(connection_id=connection_id, token_hash=hash_token(secret),
                      hint=secret[:HINT_LENGTH], created_at=utcnow())
    session.add(token)
    session.flush()
    return IssuedToken(token.id, base_path(where.endpoint_id), secret)


def revoke(session: Session, connection_id: int, which: str) -> list[int]:
    """Revoke by token id, by the token itself, or every live token with "all"; returns the ids."""
    live = list(session.scalars(select(ScimToken).where(
        ScimToken.connection_id == connection_id, ScimToken.revoked_at.is_(None))))
    if which == "all":
        chosen = live
    else:
        digest = hash_token(which)
        chosen = [t for t in live if str(t.id) == which or hmac.compare_digest(t.token_hash, digest)]
    if not chosen:
        raise TokenError(f"connection {connection_id} has no live token {which!r}")
    now = utcnow()
    for token in chosen:
        token.revoked_at = now
    return [t.id for t in chosen]


def tokens(session: Session, connection_id: int) -> list[ScimToken]:
    return list(session.scalars(select(ScimToken).where(ScimToken.connection_id == connection_id)
                                .order_by(ScimToken.id)))


def authenticate(session: Session, endpoint_id: str, secret: str) -> int | None:
    """The connection id when `secret` is a live token of this endpoint, else None.

    Every live token's hash is compared in constant time, none skipped, so the answer's
    timing says nothing about which token came close.
    """
    if not secret or not storable(endpoint_id):
        return None
    digest = hash_token(secret)
    match: ScimToken | None = None
    for token in session.scalars(select(ScimToken).join(
            ScimEndpoint, ScimEndpoint.connection_id == ScimToken.connection_id).where(
            ScimEndpoint.endpoint_id == endpoint_id, ScimToken.revoked_at.is_(None))):
        if hmac.compare_digest(token.token_hash, digest):
            match = token
    if match is None:
        return None
    _mark_used(match, utcnow())
    return match.connection_id


def _mark_used(token: ScimToken, now: datetime) -> None:
    last = token.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or now - last > LAST_USED_RESOLUTION:
        token.last_used_at = now
