"""Filter AST → SQLAlchemy WHERE clause, so filters run in the database and never load every row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import aliased

from app.models.scim import ScimGroup, ScimMember, ScimUser, ScimUserEmail
from app.scim import names, schemas
from app.scim.errors import invalid_filter
from app.scim.filters import And, Compare, Node, Not, Or, Present, ValuePath

ORDERED_OPS = {"gt", "ge", "lt", "le"}
TEXT_OPS = {"co", "sw", "ew"}


@dataclass(frozen=True)
class Field:
    """A filterable attribute: its SQL expression, type, and whether comparisons ignore case.

    `folded` expressions are already lower-cased in the database (a `*_key` column);
    `user_name` ones hold names.user_name_key, so values are folded the same way."""

    expr: Any
    type: str = "string"
    case_exact: bool = False
    folded: bool = False
    user_name: bool = False


@dataclass(frozen=True)
class Scope:
    """The attributes a filter may name, and the multi-valued ones reached through EXISTS."""

    fields: dict[str, Field]
    relations: dict[str, Callable[[ColumnElement[bool]], Any]] = field(default_factory=dict)
    relation_scopes: dict[str, Scope] = field(default_factory=dict)
    prefix: str = ""

    def name(self, path: str) -> str:
        return path[len(self.prefix):] if self.prefix and path.startswith(self.prefix) else path


def _as_datetime(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        # Stored times are UTC; SQLite keeps them without an offset, so compare in UTC.
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        # OverflowError: year 1 or 9999 moved out of range by its UTC offset.
        raise invalid_filter(f"{str(value)[:40]!r} is not a dateTime we can compare") from None


def _value(f: Field, op: str, value: Any, name: str) -> Any:
    if f.type == "boolean":
        if op not in ("eq", "ne") or not isinstance(value, bool):
            raise invalid_filter(f"{name} is a boolean: use eq/ne with true or false")
        return value
    if f.type == "dateTime":
        if op in TEXT_OPS:
            raise invalid_filter(f"{op} does not apply to the dateTime {name}")
        return _as_datetime(value)
    if not isinstance(value, str):
        raise invalid_filter(f"{name} is a string: compare it with a quoted value")
    if f.user_name:
        # A whole name is trimmed like the stored key; a fragment (co, sw…) keeps its spaces.
        return names.user_name_key(value) if op in ("eq", "ne") else names.fold(value)
    return value if f.case_exact else value.lower()


def _expr(f: Field) -> Any:
    if f.type == "string" and not f.case_exact and not f.folded:
        return func.lower(f.expr)
    return f.expr


def compare(f: Field, op: str, value: Any, name: str) -> ColumnElement[bool]:
    """One comparison; absent values never match (so `not (x eq 1)` includes them)."""
    column = _expr(f)
    if value is None:
        if op not in ("eq", "ne"):
            raise invalid_filter(f"only eq/ne compare {name} with null")
        return f.expr.is_(None) if op == "eq" else f.expr.isnot(None)
    value = _value(f, op, value, name)
    present = f.expr.isnot(None)
    if op == "ne":
        return or_(f.expr.is_(None), column != value)
    condition = {
        "eq": lambda: column == value, "gt": lambda: column > value,
        "ge": lambda: column >= value, "lt": lambda: column < value,
        "le": lambda: column <= value,
        "co": lambda: column.contains(value, autoescape=True),
        "sw": lambda: column.startswith(value, autoescape=True),
        "ew": lambda: column.endswith(value, autoescape=True),
    }[op]()
    return and_(present, condition)


def compile_filter(node: Node, scope: Scope) -> ColumnElement[bool]:
    """The WHERE clause for `node`; unknown attributes and bad operators are 400 invalidFilter."""
    if isinstance(node, And):
        return and_(compile_filter(node.left, scope), compile_filter(node.right, scope))
    if isinstance(node, Or):
        return or_(compile_filter(node.left, scope), compile_filter(node.right, scope))
    if isinstance(node, Not):
        return not_(compile_filter(node.inner, scope))
    if isinstance(node, ValuePath):
        name = scope.name(node.path)
        if name not in scope.relations:
            raise invalid_filter(f"{node.path} is not a multi-valued attribute we filter on")
        return scope.relations[name](compile_filter(node.inner, scope.relation_scopes[name]))
    name = scope.name(node.path)
    head, _, tail = name.partition(".")
    if name not in scope.fields and head in scope.relations:
        inner = Compare(tail or "value", node.op, node.value) if isinstance(node, Compare) \
            else Present(tail or "value")
        return scope.relations[head](compile_filter(inner, scope.relation_scopes[head]))
    if name not in scope.fields:
        raise invalid_filter(f"filtering on {node.path!r} is not supported")
    f = scope.fields[name]
    if isinstance(node, Present):
        if f.type == "string":
            return and_(f.expr.isnot(None), f.expr != "")
        return f.expr.isnot(None)
    if f.type == "boolean" and isinstance(node.value, str):
        raise invalid_filter(f"{name} is a boolean: compare it with true or false")
    return compare(f, node.op, node.value, name)


def _meta(model: Any) -> dict[str, Field]:
    return {"meta.created": Field(model.created_at, "dateTime"),
            "meta.lastmodified": Field(model.last_modified, "dateTime")}


EMAIL_SCOPE = Scope({
    "value": Field(ScimUserEmail.value_key, folded=True),
    "type": Field(ScimUserEmail.type),
    "primary": Field(ScimUserEmail.primary, "boolean"),
})


def _emails(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(select(ScimUserEmail.id).where(ScimUserEmail.user_pk == ScimUser.pk, condition))


USER_SCOPE = Scope({
    "id": Field(ScimUser.scim_id, case_exact=True),
    "username": Field(ScimUser.user_name_key, folded=True, user_name=True),
    "externalid": Field(ScimUser.external_id, case_exact=True),
    "displayname": Field(ScimUser.display_name),
    "active": Field(ScimUser.active, "boolean"),
    **_meta(ScimUser),
}, {"emails": _emails}, {"emails": EMAIL_SCOPE}, prefix=schemas.USER.lower() + ":")

_MemberUser = aliased(ScimUser)
_MemberGroup = aliased(ScimGroup)
MEMBER_SCOPE = Scope({
    "value": Field(func.coalesce(_MemberUser.scim_id, _MemberGroup.scim_id), case_exact=True),
    "type": Field(case((ScimMember.user_pk.isnot(None), "user"), else_="group"), folded=True),
    # The member's display name: the user's displayName, or the nested group's.
    "display": Field(func.coalesce(_MemberUser.display_name, _MemberGroup.display_name)),
})


def member_rows(condition: ColumnElement[bool]) -> Select[tuple[int]]:
    """The ids of ScimMember rows meeting `condition` (compiled against MEMBER_SCOPE)."""
    return (select(ScimMember.id)
            .outerjoin(_MemberUser, ScimMember.user_pk == _MemberUser.pk)
            .outerjoin(_MemberGroup, ScimMember.child_pk == _MemberGroup.pk)
            .where(condition))


def _members(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(member_rows(condition).where(ScimMember.group_pk == ScimGroup.pk))


GROUP_SCOPE = Scope({
    "id": Field(ScimGroup.scim_id, case_exact=True),
    "displayname": Field(ScimGroup.display_name_key, folded=True),
    "externalid": Field(ScimGroup.external_id, case_exact=True),
    **_meta(ScimGroup),
}, {"members": _members}, {"members": MEMBER_SCOPE}, prefix=schemas.GROUP.lower() + ":")

# sortBy → column; anything else is refused rather than silently ignored.
USER_SORT = {"id": ScimUser.scim_id, "username": ScimUser.user_name_key,
             "externalid": ScimUser.external_id, "displayname": ScimUser.display_name,
             "meta.created": ScimUser.created_at, "meta.lastmodified": ScimUser.last_modified}
GROUP_SORT = {"id": ScimGroup.scim_id, "displayname": ScimGroup.display_name_key,
              "externalid": ScimGroup.external_id, "meta.created": ScimGroup.created_at,
              "meta.lastmodified": ScimGroup.last_modified}
