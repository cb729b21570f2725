"""Pushed groups in the database; members are rows, changed one by one, never rewritten wholesale."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from app.models.installation import utcnow
from app.models.scim import ScimGroup, ScimMember, ScimUser
from app.scim import render
from app.scim.errors import invalid_value
from app.scim.listing import one
from app.scim.schemas import GROUP
from app.scim.text import storable

CHUNK = 500
MAX_KEY = 255


def get(session: Session, connection_id: int, scim_id: str) -> ScimGroup:
    return one(session, ScimGroup, connection_id, scim_id, "Group")


def write(session: Session, group: ScimGroup, doc: dict[str, Any]) -> ScimGroup:
    """Copy the document (without members) into the row and bump its version."""
    doc = {k: v for k, v in doc.items() if k != "members"}
    key = doc["displayName"].lower()
    if len(key) > MAX_KEY:  # lower-casing can lengthen some scripts
        raise invalid_value(f"displayName is longer than {MAX_KEY} characters")
    group.display_name = doc["displayName"]
    group.display_name_key = key
    group.external_id = doc.get("externalId")
    group.document = doc
    if group.pk is None:
        group.last_modified = utcnow()
        session.add(group)
        session.flush()
    else:
        touch(session, group)
    return group


def touch(session: Session, group: ScimGroup) -> None:
    """Any change, members included, moves lastModified and the ETag.

    The version is bumped in SQL, so concurrent member changes each count."""
    group.last_modified = utcnow()
    group.version = ScimGroup.version + 1
    session.flush()
    session.refresh(group, ["version"])


def new(connection_id: int) -> ScimGroup:
    return ScimGroup(scim_id=str(uuid.uuid4()), connection_id=connection_id, version=1,
                     created_at=utcnow())


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


def member_ids(value: Any) -> list[str]:
    """The ids in a `members` value: [{"value": id, ...}] (Entra adds "$ref": null)."""
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if item is None:
            continue
        if not isinstance(item, dict) or not isinstance(item.get("value"), str) \
                or not storable(item["value"]):
            raise invalid_value("each member needs a string 'value' (the member's id)")
        ids.append(item["value"])
    return list(dict.fromkeys(ids))


def resolve(session: Session, group: ScimGroup, ids: list[str]) -> tuple[set[int], set[int]]:
    """(user pks, group pks) for member ids of this connection; an unknown id is a 400."""
    users: dict[str, int] = {}
    groups: dict[str, int] = {}
    for chunk in _chunks(ids):
        users.update(session.execute(select(ScimUser.scim_id, ScimUser.pk).where(
            ScimUser.connection_id == group.connection_id, ScimUser.scim_id.in_(chunk))).all())
        missing = [i for i in chunk if i not in users]
        if missing:
            groups.update(session.execute(select(ScimGroup.scim_id, ScimGroup.pk).where(
                ScimGroup.connection_id == group.connection_id,
                ScimGroup.scim_id.in_(missing))).all())
    unknown = [i for i in ids if i not in users and i not in groups]
    if unknown:
        raise invalid_value(f"no User or Group with id {', '.join(unknown[:5])}")
    if group.pk in groups.values():
        raise invalid_value("a group cannot be a member of itself")
    return set(users.values()), set(groups.values())


def add_members(session: Session, group: ScimGroup, ids: list[str]) -> None:
    """Insert the members not there yet; costs O(len(ids)), whatever the group's size."""
    user_pks, child_pks = resolve(session, group, ids)
    statement, upsert = _insert_ignoring_duplicates(session)
    if not upsert:
        have_users, have_children = _present(session, group, user_pks, child_pks)
        user_pks, child_pks = user_pks - have_users, child_pks - have_children
    # Two IdP requests may add the same member at once: the second insert is a no-op, not a 500.
    for rows in ([{"group_pk": group.pk, "user_pk": pk} for pk in sorted(user_pks)],
                 [{"group_pk": group.pk, "child_pk": pk} for pk in sorted(child_pks)]):
        if rows:
            session.execute(statement, rows)


def _insert_ignoring_duplicates(session: Session) -> tuple[Any, bool]:
    """(insert statement, whether it skips rows that already exist)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(ScimMember).on_conflict_do_nothing(), True
    if dialect == "sqlite":
        return sqlite.insert(ScimMember).on_conflict_do_nothing(), True
    return insert(ScimMember), False


def _present(session: Session, group: ScimGroup, user_pks: set[int],
             child_pks: set[int]) -> tuple[set[int], set[int]]:
    """Which of these users and groups are members already."""
    rows = session.execute(select(ScimMember.user_pk, ScimMember.child_pk).where(
        ScimMember.group_pk == group.pk,
        or_(ScimMember.user_pk.in_(user_pks), ScimMember.child_pk.in_(child_pks)))).all()
    return ({u for u, _ in rows if u is not None}, {c for _, c in rows if c is not None})


def remove_members(session: Session, group: ScimGroup, ids: list[str]) -> None:
    """Drop the named members; ids that are not members (or unknown) are simply not there."""
    for chunk in _chunks(ids):
        users = select(ScimUser.pk).where(ScimUser.scim_id.in_(chunk),
                                          ScimUser.connection_id == group.connection_id)
        groups = select(ScimGroup.pk).where(ScimGroup.scim_id.in_(chunk),
                                            ScimGroup.connection_id == group.connection_id)
        session.execute(delete(ScimMember).where(
            ScimMember.group_pk == group.pk,
            or_(ScimMember.user_pk.in_(users), ScimMember.child_pk.in_(groups))))


def replace_members(session: Session, group: ScimGroup, ids: list[str]) -> None:
    resolve(session, group, ids)
    session.execute(delete(ScimMember).where(ScimMember.group_pk == group.pk))
    if ids:
        add_members(session, group, ids)


def members_of(session: Session, group_pks: list[int], base_url: str) -> dict[int, list[dict]]:
    """Rendered members of many groups in one query per chunk (never one query per group)."""
    child = aliased(ScimGroup)
    out: dict[int, list[dict]] = defaultdict(list)
    for chunk in _chunks(group_pks):
        rows = session.execute(
            select(ScimMember.group_pk, ScimUser.scim_id, child.scim_id)
            .outerjoin(ScimUser, ScimMember.user_pk == ScimUser.pk)
            .outerjoin(child, ScimMember.child_pk == child.pk)
            .where(ScimMember.group_pk.in_(chunk)).order_by(ScimMember.id))
        for group_pk, user_id, child_id in rows:
            if user_id is not None:
                out[group_pk].append({"value": user_id, "$ref": f"{base_url}/Users/{user_id}",
                                      "type": "User"})
            else:
                out[group_pk].append({"value": child_id, "$ref": f"{base_url}/Groups/{child_id}",
                                      "type": "Group"})
    return out


def resource(group: ScimGroup, members: list[dict] | None, base_url: str) -> dict[str, Any]:
    """The SCIM representation; `members` None means they were not asked for."""
    out: dict[str, Any] = {"schemas": [GROUP], "id": group.scim_id, **(group.document or {})}
    if members:
        out["members"] = members
    out["meta"] = render.meta("Group", group, f"{base_url}/Groups/{group.scim_id}")
    return out
