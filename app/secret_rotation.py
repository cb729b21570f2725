"""Re-encrypting every stored secret under the key ring's first key, so old keys can go."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, ColumnElement, Table, null, select, update

from app.crypto import KeyRing, SecretError
from app.db import Base, Database

ENCRYPTED_SUFFIX = "_encrypted"
"""Every column whose name ends so holds key-ring ciphertext (the models' naming rule)."""


@dataclass
class Unreadable:
    """A stored secret that no key of the ring decrypts."""

    table: str
    column: str
    row_id: int
    installation_id: int | None

    def __str__(self) -> str:
        site = f" (installation {self.installation_id})" if self.installation_id is not None else ""
        return f"{self.table}.{self.column} of row {self.row_id}{site}"


@dataclass
class RotationReport:
    """What `rotate_all` did: counts per table.column, and the secrets it could not read."""

    rotated: dict[str, int] = field(default_factory=dict)
    changed_meanwhile: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rotated.values())


def encrypted_columns() -> Iterator[tuple[Table, Column]]:
    """(table, column) of every encrypted column of every model, found by name."""
    import app.models  # noqa: F401  (every model registers its table on the metadata)

    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name.endswith(ENCRYPTED_SUFFIX):
                yield table, column


def rotate_all(db: Database, ring: KeyRing) -> RotationReport:
    """Re-encrypt every stored secret under the first key, one row at a time.

    A row is only overwritten when it still holds the ciphertext that was read (a worker that
    refreshed a token meanwhile already wrote it under the first key); unreadable secrets are
    left as they are and reported, so restoring the old key later still recovers them.
    """
    report = RotationReport()
    for table, column in encrypted_columns():
        key = f"{table.name}.{column.name}"
        report.rotated[key] = 0
        owner = _installation_column(table)
        with db.session() as session:
            rows = session.execute(select(table.c.id, column, owner)
                                   .where(column.is_not(None))).all()
        for row_id, token, installation_id in rows:
            try:
                fresh = ring.rotate(token)
            except SecretError:
                report.unreadable.append(Unreadable(table.name, column.name, row_id,
                                                    installation_id))
                continue
            with db.session() as session:
                done = session.execute(update(table).where(table.c.id == row_id, column == token)
                                       .values({column.name: fresh})).rowcount
            if done:
                report.rotated[key] += 1
            else:
                report.changed_meanwhile += 1
    return report


def _installation_column(table: Table) -> ColumnElement:
    """The tenant a row belongs to, so an unreadable secret can be named by its site."""
    if "installation_id" in table.c:
        return table.c.installation_id
    if table.name == "installation":
        return table.c.id
    return null().label("installation_id")
