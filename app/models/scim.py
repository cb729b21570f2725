"""SCIM-pushed directories: endpoints, bearer tokens, users, their e-mails, groups and members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import ConnectionPart, connection_ref, key, moment, stamped


class ScimResource:
    """What a pushed user and a pushed group both hold: their ids, the document as stored, the
    version behind its ETag and the meta dates."""

    # the ids lead each table's columns, as in the migration that created them
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-3)
    scim_id: Mapped[str] = mapped_column(String(36), unique=True, sort_order=-2)
    connection_id: Mapped[int] = connection_ref(index=True, sort_order=-1)
    external_id: Mapped[str | None] = mapped_column(String(255))
    document: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = stamped()
    last_modified: Mapped[datetime] = stamped()


class ScimEndpoint(Base):
    """The SCIM base URL of one connection; `endpoint_id` is the opaque id in the URL path."""

    __tablename__ = "scim_endpoint"

    id: Mapped[int] = key()
    connection_id: Mapped[int] = connection_ref(unique=True)
    endpoint_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = stamped()


class ScimToken(ConnectionPart, Base):
    """One bearer token of an endpoint, kept only as a SHA-256 hash; several may be live at once."""

    __tablename__ = "scim_token"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so an admin can tell tokens apart when revoking.
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = stamped()
    revoked_at: Mapped[datetime | None] = moment()
    last_used_at: Mapped[datetime | None] = moment()


class ScimUser(ScimResource, Base):
    """A pushed user. `document` is the resource as stored; the columns mirror what filters need."""

    __tablename__ = "scim_user"
    __table_args__ = (
        UniqueConstraint("connection_id", "user_name_key", name="uq_scim_user_user_name"),
        Index("ix_scim_user_connection_external", "connection_id", "external_id"),
    )

    user_name: Mapped[str] = mapped_column(String(255))
    # userName is unique and compared case-insensitively: its key (NFC, case-folded, trimmed;
    # app/scim/names.py) carries the unique index, on SQLite and PostgreSQL alike.
    user_name_key: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ScimUserEmail(Base):
    """One e-mail of a pushed user, a row each so `emails[...]` filters run in the database."""

    __tablename__ = "scim_user_email"

    id: Mapped[int] = key()
    user_pk: Mapped[int] = mapped_column(ForeignKey("scim_user.pk", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(320))
    value_key: Mapped[str] = mapped_column(String(320), index=True)
    type: Mapped[str | None] = mapped_column(String(64))
    primary: Mapped[bool] = mapped_column(Boolean, default=False)


class ScimGroup(ScimResource, Base):
    """A pushed group; members live in ScimMember so one change never rewrites the whole list."""

    __tablename__ = "scim_group"
    __table_args__ = (
        Index("ix_scim_group_connection_display", "connection_id", "display_name_key"),
        Index("ix_scim_group_connection_external", "connection_id", "external_id"),
    )

    display_name: Mapped[str] = mapped_column(String(255))
    display_name_key: Mapped[str] = mapped_column(String(255))


class ScimMember(Base):
    """A direct member of a group: a user or (nested) a group, exactly one of the two."""

    __tablename__ = "scim_member"
    __table_args__ = (
        UniqueConstraint("group_pk", "user_pk", name="uq_scim_member_user"),
        UniqueConstraint("group_pk", "child_pk", name="uq_scim_member_child"),
        CheckConstraint("(user_pk IS NULL) <> (child_pk IS NULL)", name="one_member"),
    )

    id: Mapped[int] = key()
    group_pk: Mapped[int] = mapped_column(ForeignKey("scim_group.pk", ondelete="CASCADE"))
    user_pk: Mapped[int | None] = mapped_column(
        ForeignKey("scim_user.pk", ondelete="CASCADE"), index=True)
    child_pk: Mapped[int | None] = mapped_column(
        ForeignKey("scim_group.pk", ondelete="CASCADE"), index=True)
