"""PATCH on a group: member changes go straight to member rows, the rest patches the document."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.models.scim import ScimGroup, ScimMember
from app.scim import documents, groups, patch, query
from app.scim.errors import ScimError, invalid_path
from app.scim.filters import Node, PatchPath
from app.scim.patch import Operation
from app.scim.resource_types import GROUP
from app.scim.selectors import equal_values

MEMBERS = "members"
# A selector that is not a list of ids is one SQL statement over the group's member rows; this
# many per PATCH bounds the work of one request whatever the group's size (Entra and Okta
# name members by id, which costs nothing extra).
MAX_SCANNING_SELECTORS = 20


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


def apply(session: Session, group: ScimGroup, operations: list[Operation]) -> None:
    """Apply a PatchOp to `group` in the session; raises ScimError on bad operations."""
    member_ops, doc_ops = split(operations)
    _check_work(member_ops)
    if doc_ops:
        doc = patch.apply(GROUP, group.document or {}, doc_ops)
        documents.check_required(GROUP, doc)
        groups.write(session, group, doc)
    # Adds in a row commute, and so do removals by id: Okta's one-operation-per-member PATCH
    # becomes one INSERT or one DELETE, however many operations it has.
    batch: tuple[str, list[str]] = ("", [])
    for op in member_ops:
        kind, ids = _batchable(op)
        if kind and kind == batch[0]:
            batch[1].extend(ids)
            continue
        _apply_batch(session, group, batch)
        batch = (kind, list(ids))
        if not kind:
            _apply_members(session, group, op)
    _apply_batch(session, group, batch)
    if member_ops and not doc_ops:
        groups.touch(session, group)


def _check_work(member_ops: list[Operation]) -> None:
    """Refuse, before anything is changed, a PATCH whose selectors would scan too often.

    RFC 7644 §3.12 defines `tooMany` for a filter that "yields many more results than the
    server is willing to calculate or process"; member selectors are such filters.
    """
    scanning = sum(1 for op in member_ops if op.path is not None and op.path.selector is not None
                   and equal_values(op.path.selector) is None)
    if scanning > MAX_SCANNING_SELECTORS:
        raise ScimError(400, f"at most {MAX_SCANNING_SELECTORS} member selectors other than "
                             f'`value eq "id"` per PATCH; this one has {scanning}', "tooMany")


def _batchable(op: Operation) -> tuple[str, list[str]]:
    """("add" or "remove", the member ids) for an operation that only names ids, else ("", [])."""
    path = op.path
    if path is None or path.sub is not None:
        return "", []
    if op.op == "add" and path.selector is None:
        return "add", groups.member_ids(op.value)
    if op.op != "remove":
        return "", []
    if path.selector is not None:
        ids = equal_values(path.selector)
        return ("remove", [str(i) for i in ids]) if ids is not None else ("", [])
    # Entra's older removal: {"op":"Remove","path":"members","value":[{"value":id}]}.
    return ("remove", groups.member_ids(op.value)) if op.value is not None else ("", [])


def _apply_batch(session: Session, group: ScimGroup, batch: tuple[str, list[str]]) -> None:
    kind, ids = batch
    if kind == "add":
        groups.add_members(session, group, list(dict.fromkeys(ids)))
    elif kind == "remove":
        groups.remove_members(session, group, ids)


def _apply_members(session: Session, group: ScimGroup, op: Operation) -> None:
    path = op.path
    assert path is not None
    if path.sub is not None:
        raise invalid_path("members sub-attributes are immutable; add or remove whole members")
    if path.selector is not None:
        if op.op != "remove":
            raise invalid_path("use add or remove on members, not a filtered replace")
        _remove_selected(session, group, path.selector)
    elif op.op == "replace":
        groups.replace_members(session, group, groups.member_ids(op.value))
    else:
        groups.replace_members(session, group, [])


def _remove_selected(session: Session, group: ScimGroup, selector: Node) -> None:
    """Remove the members a selector other than a list of ids picks, in one SQL statement."""
    try:
        condition = query.compile_filter(selector, query.MEMBER_SCOPE)
    except ScimError as error:
        raise invalid_path(f"bad member selector: {error.detail}") from None
    chosen = query.member_rows(condition).where(ScimMember.group_pk == group.pk)
    session.execute(delete(ScimMember).where(ScimMember.id.in_(chosen)))
