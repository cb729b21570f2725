"""PATCH on a group: member changes go straight to member rows, the rest patches the document."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models.scim import ScimGroup
from app.scim import documents, groups, patch
from app.scim.errors import invalid_path
from app.scim.filters import PatchPath
from app.scim.patch import Operation
from app.scim.resource_types import GROUP
from app.scim.selectors import equal_values, matches

MEMBERS = "members"


def _is_members(path: PatchPath | None) -> bool:
    return path is not None and path.attr.rpartition(":")[2] == MEMBERS


def split(operations: list[Operation]) -> tuple[list[Operation], list[Operation]]:
    """(member operations, document operations), each in request order.

    A path-less operation whose value carries `members` is cut in two, so Okta's
    rename-and-members and Entra's object-valued adds both land where they belong.
    """
    member_ops: list[Operation] = []
    doc_ops: list[Operation] = []
    for op in operations:
        if _is_members(op.path):
            member_ops.append(op)
        elif op.path is None and isinstance(op.value, dict):
            rest = {k: v for k, v in op.value.items() if k.lower() != MEMBERS}
            members = [v for k, v in op.value.items() if k.lower() == MEMBERS]
            if members:
                member_ops.append(Operation(op.op, PatchPath(MEMBERS), members[0]))
            if rest:
                doc_ops.append(Operation(op.op, None, rest))
        else:
            doc_ops.append(op)
    return member_ops, doc_ops


def apply(session: Session, group: ScimGroup, operations: list[Operation], base_url: str) -> None:
    """Apply a PatchOp to `group` in the session; raises ScimError on bad operations."""
    member_ops, doc_ops = split(operations)
    if doc_ops:
        doc = patch.apply(GROUP, group.document or {}, doc_ops)
        documents.check_required(GROUP, doc)
        groups.write(session, group, doc)
    for op in member_ops:
        _apply_members(session, group, op, base_url)
    if member_ops and not doc_ops:
        groups.touch(session, group)


def _apply_members(session: Session, group: ScimGroup, op: Operation, base_url: str) -> None:
    path = op.path
    assert path is not None
    if path.sub is not None:
        raise invalid_path("members sub-attributes are immutable; add or remove whole members")
    if path.selector is not None:
        if op.op != "remove":
            raise invalid_path("use add or remove on members, not a filtered replace")
        groups.remove_members(session, group, _selected(session, group, path, base_url))
    elif op.op == "add":
        groups.add_members(session, group, groups.member_ids(op.value))
    elif op.op == "replace":
        groups.replace_members(session, group, groups.member_ids(op.value))
    elif op.value is not None:
        # Entra's older removal: {"op":"Remove","path":"members","value":[{"value":id}]}.
        groups.remove_members(session, group, groups.member_ids(op.value))
    else:
        groups.replace_members(session, group, [])


def _selected(session: Session, group: ScimGroup, path: PatchPath, base_url: str) -> list[Any]:
    """Ids picked by `members[...]`: read from the filter when it only names ids, else evaluated."""
    assert path.selector is not None
    ids = equal_values(path.selector)
    if ids is not None:
        return [str(i) for i in ids]
    current = groups.members_of(session, [group.pk], base_url).get(group.pk, [])
    return [m["value"] for m in current if matches(path.selector, m)]
