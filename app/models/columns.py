"""The columns many tables share: the integer key, the owning connection, moments and enums."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(at: datetime) -> datetime:
    """A stored moment in UTC (SQLite hands timezone-aware columns back naive)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def key(**options: Any) -> Mapped[int]:
    """The integer primary key `id`."""
    return mapped_column(Integer, primary_key=True, **options)


def connection_ref(**options: Any) -> Mapped[int]:
    """The connection a row belongs to: deleted with it."""
    return mapped_column(ForeignKey("connection.id", ondelete="CASCADE"), **options)


def moment(**options: Any) -> Mapped[Any]:
    """A point in time, with its time zone (NULL until it happens unless `options` say more)."""
    return mapped_column(DateTime(timezone=True), **options)


def stamped(**options: Any) -> Mapped[datetime]:
    """The moment the row was written (`onupdate=utcnow` for the last change)."""
    return moment(default=utcnow, **options)


def _values(members: type[enum.Enum]) -> list[str]:
    # store "oauth", not the member name "OAUTH": the column reads the same in SQL
    return [str(member.value) for member in members]


def enum_type(members: type[enum.Enum], name: str) -> Enum:
    """A string enum stored by value in a VARCHAR(16), without a database enum type."""
    return Enum(members, name=name, native_enum=False, length=16, values_callable=_values)


class ConnectionPart:
    """A row of a connection's own, found by the connection: `id` and an indexed
    `connection_id` lead its columns, as in the migrations that created them."""

    id: Mapped[int] = key(sort_order=-2)
    connection_id: Mapped[int] = connection_ref(index=True, sort_order=-1)
