"""Reads of a connection's rows: one by SCIM id, or a list (filter compiled to SQL, a total,
one page in a stable order)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.scim.errors import invalid_value, not_found
from app.scim.filters import parse_filter
from app.scim.query import Scope, compile_filter
from app.scim.text import storable


def one(session: Session, model: Any, connection_id: int, scim_id: str, noun: str) -> Any:
    """The row with this SCIM id in this connection, or 404 (also for ids no row could hold)."""
    if not storable(scim_id):
        raise not_found(f"no {noun} with that id")
    row = session.scalar(select(model).where(model.scim_id == scim_id,
                                             model.connection_id == connection_id))
    if row is None:
        raise not_found(f"no {noun} with id {scim_id!r}")
    return row


def page(session: Session, model: Any, scope: Scope, sort_columns: dict[str, Any],
         connection_id: int, *, filter_text: str | None, start: int, count: int,
         sort_by: str | None = None, sort_order: str | None = None) -> tuple[int, list[Any]]:
    """(totalResults, rows of the page). Ties break on the primary key, so paging never skips."""
    conditions = [model.connection_id == connection_id]
    if filter_text:
        conditions.append(compile_filter(parse_filter(filter_text), scope))
    total = session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0
    if count == 0 or start > total:
        return total, []
    query = select(model).where(*conditions).order_by(*_order(model, sort_columns, sort_by,
                                                               sort_order))
    return total, list(session.scalars(query.offset(start - 1).limit(count)))


def _order(model: Any, sort_columns: dict[str, Any], sort_by: str | None,
           sort_order: str | None) -> list[Any]:
    if not sort_by:
        return [model.pk]
    key = sort_by.lower().rpartition(":")[2] if sort_by.lower().startswith("urn:") \
        else sort_by.lower()
    column = sort_columns.get(key)
    if column is None:
        raise invalid_value(f"sorting by {sort_by!r} is not supported")
    descending = (sort_order or "ascending").lower() == "descending"
    ordered = column.desc().nulls_last() if descending else column.asc().nulls_last()
    return [ordered, model.pk.desc() if descending else model.pk]
