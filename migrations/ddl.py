"""Column shapes the migrations share. Frozen: a migration must emit the same SQL forever, so a
helper here is never changed once a migration uses it; a new shape gets a new helper."""

from __future__ import annotations

import sqlalchemy as sa


def key(name: str = "id") -> sa.Column:
    """The integer key; the table names it in its PrimaryKeyConstraint."""
    return sa.Column(name, sa.Integer(), nullable=False)


def primary_key(name: str = "id") -> sa.Column:
    """The integer primary key, declared on the column itself."""
    return sa.Column(name, sa.Integer(), primary_key=True)


def connection_id() -> sa.Column:
    """The owning connection; the table adds `connection_fk` for it."""
    return sa.Column("connection_id", sa.Integer(), nullable=False)


def connection_fk(table: str) -> sa.ForeignKeyConstraint:
    """`table`.connection_id → connection.id, deleted with the connection."""
    return sa.ForeignKeyConstraint(["connection_id"], ["connection.id"],
                                   name=f"fk_{table}_connection_id_connection", ondelete="CASCADE")


def connection_ref(**options: bool) -> sa.Column:
    """The owning connection with its foreign key inline (`index`, `unique`, `primary_key`)."""
    nullable = {} if options.get("primary_key") else {"nullable": False}
    return sa.Column("connection_id", sa.Integer(),
                     sa.ForeignKey("connection.id", ondelete="CASCADE"), **nullable, **options)


def moment(name: str, *, nullable: bool = False, index: bool = False) -> sa.Column:
    """A point in time with its time zone."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     **({"index": True} if index else {}))


def scim_resource_ids() -> list[sa.Column]:
    """What leads a pushed user's and a pushed group's columns: their ids and connection."""
    return [key("pk"), sa.Column("scim_id", sa.String(36), nullable=False), connection_id()]


def scim_resource_meta() -> list[sa.Column]:
    """What ends them: the stored document, its version and the meta dates."""
    return [sa.Column("document", sa.JSON(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            moment("created_at"), moment("last_modified")]
