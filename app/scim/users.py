"""Pushed users in the database: create, read, replace, delete, with userName unique per connection."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models.installation import utcnow
from app.models.scim import ScimUser, ScimUserEmail
from app.scim import names, render
from app.scim.errors import invalid_value, uniqueness
from app.scim.listing import one
from app.scim.schemas import ENTERPRISE, USER

MAX_EMAIL = 320
MAX_EMAIL_TYPE = 64
MAX_KEY = 255


def get(session: Session, connection_id: int, scim_id: str) -> ScimUser:
    """The user with this SCIM id in this connection, or 404."""
    return one(session, ScimUser, connection_id, scim_id, "User")


def _emails(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for item in doc.get("emails") or []:
        value = item.get("value")
        if not value:
            continue
        if len(value) > MAX_EMAIL:
            raise invalid_value(f"emails.value is longer than {MAX_EMAIL} characters")
        if len(item.get("type") or "") > MAX_EMAIL_TYPE:
            raise invalid_value(f"emails.type is longer than {MAX_EMAIL_TYPE} characters")
        rows.append({"value": value, "value_key": value.lower(), "type": item.get("type"),
                     "primary": bool(item.get("primary"))})
    return rows


def _write(session: Session, user: ScimUser, doc: dict[str, Any]) -> None:
    """Copy the document into the row and its filter columns; e-mail rows only when they changed."""
    key = names.user_name_key(doc["userName"])
    if len(key) > MAX_KEY:  # case folding can lengthen some scripts
        raise invalid_value(f"userName is longer than {MAX_KEY} characters once case-folded")
    is_new = user.pk is None
    emails_changed = is_new or (user.document or {}).get("emails") != doc.get("emails")
    emails = _emails(doc)
    user.user_name, user.user_name_key = doc["userName"], key
    user.external_id = doc.get("externalId")
    user.display_name = doc.get("displayName")
    # No `active` means nobody disabled the user: they count as active, as in RFC 7643 §4.1.1.
    user.active = doc.get("active", True)
    user.document = doc
    user.last_modified = utcnow()
    if is_new:
        session.add(user)
    else:
        user.version = ScimUser.version + 1  # in SQL: concurrent writes each count
    try:
        session.flush()
    except IntegrityError:
        # The unique index on (connection, userName key) is the check: one round trip,
        # and no window between a look-up and the insert for a concurrent request to use.
        raise uniqueness(f"userName {key!r} is already taken") from None
    if not is_new:
        session.refresh(user, ["version"])
    if emails_changed:
        if not is_new:
            session.execute(delete(ScimUserEmail).where(ScimUserEmail.user_pk == user.pk))
        if emails:
            session.execute(insert(ScimUserEmail), [{"user_pk": user.pk, **e} for e in emails])


def create(session: Session, connection_id: int, doc: dict[str, Any]) -> ScimUser:
    user = ScimUser(scim_id=str(uuid.uuid4()), connection_id=connection_id, version=1,
                    created_at=utcnow())
    _write(session, user, doc)
    return user


def replace(session: Session, user: ScimUser, doc: dict[str, Any]) -> ScimUser:
    _write(session, user, doc)
    return user


def count(session: Session, connection_id: int) -> int:
    return session.scalar(select(func.count()).select_from(ScimUser)
                          .where(ScimUser.connection_id == connection_id)) or 0


def resource(user: ScimUser, base_url: str) -> dict[str, Any]:
    """The SCIM representation: stored document plus id, schemas and meta."""
    doc = user.document or {}
    schemas = [USER] + ([ENTERPRISE] if ENTERPRISE in doc else [])
    return {"schemas": schemas, "id": user.scim_id, **doc,
            "meta": render.meta("User", user, f"{base_url}/Users/{user.scim_id}")}
