"""SCIM bearer tokens of push connections: list, issue (shown once), revoke."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import extensions
from app.admin import connection_settings, tenancy
from app.admin.api import Context, operation
from app.admin.errors import conflict, not_found
from app.admin.forms import PUSH_KINDS
from app.admin.schemas import credential as s
from app.models.installation import utcnow
from app.models.scim import ScimToken
from app.scim import tokens

TAG = "scim"


def _push_connection(session, ctx: Context, connection_id: int):  # type: ignore[no-untyped-def]
    conn = tenancy.connection(session, ctx.caller, connection_id)
    if conn.kind not in PUSH_KINDS:
        raise conflict(f"connection {connection_id} is of kind {conn.kind!r}: only SCIM push "
                       "connections have tokens")
    return conn


def _token(t: ScimToken) -> dict[str, Any]:
    return {"id": t.id, "hint": t.hint, "created_at": t.created_at,
            "last_used_at": t.last_used_at, "revoked_at": t.revoked_at}


@operation("/connections/<int:connection_id>/scim-tokens", "GET",
           summary="The SCIM base URL and its tokens", tag=TAG, answer=s.ScimTokenList,
           errors=(404, 409))
def list_scim_tokens(ctx: Context, connection_id: int) -> dict[str, Any]:
    with extensions.db.session() as session:
        conn = _push_connection(session, ctx, connection_id)
        return {"base_url": connection_settings.scim_base_url(session, conn),
                "items": [_token(t) for t in tokens.tokens(session, conn.id)]}


@operation("/connections/<int:connection_id>/scim-tokens", "POST",
           summary="Issue a token (its value is shown this once)", tag=TAG,
           answer=s.NewScimToken, status=201, errors=(404, 409))
def create_scim_token(ctx: Context, connection_id: int) -> dict[str, Any]:
    with extensions.db.session() as session:
        conn = _push_connection(session, ctx, connection_id)
        issued = tokens.create(session, conn.id)
        row = session.get(ScimToken, issued.id)
        return {"id": issued.id, "hint": row.hint, "created_at": row.created_at,
                "token": issued.secret,
                "base_url": connection_settings.scim_base_url(session, conn)}


@operation("/connections/<int:connection_id>/scim-tokens/<int:token_id>", "DELETE",
           summary="Revoke a token", tag=TAG, errors=(404, 409))
def revoke_scim_token(ctx: Context, connection_id: int, token_id: int) -> None:
    with extensions.db.session() as session:
        conn = _push_connection(session, ctx, connection_id)
        token = session.scalars(select(ScimToken).where(
            ScimToken.id == token_id, ScimToken.connection_id == conn.id)).first() \
            if token_id <= tenancy.MAX_ID else None
        if token is None:
            raise not_found("token")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
    return None
