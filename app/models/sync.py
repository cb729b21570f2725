"""What the sync engine remembers: links between IdP and Atlassian ids, runs, and each change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import ConnectionPart, connection_ref, key, moment, stamped
from workers.vocabulary import RunStatus


class Link(Base):
    """IdP id ↔ Atlassian id for one connection, so e-mail changes and renames are followed.

    `kind` is "user" (idp_id → accountId) or "group" (idp_id → groupId). `suspended` marks an
    account whose access this connection suspended (so only this connection restores it).
    """

    __tablename__ = "link"
    # The unique key finds a link by IdP id; the index by Atlassian id (a save takes the id
    # from any other IdP id holding it, a stale id is forgotten, a suspension is marked, a run
    # planning a small delta loads the links of the accounts it found); a run loads the
    # suspended ones alone.
    __table_args__ = (UniqueConstraint("connection_id", "kind", "idp_id",
                                       name="uq_link_connection_kind_idp"),
                      Index("ix_link_connection_kind_atlassian", "connection_id", "kind",
                            "atlassian_id"),
                      Index("ix_link_connection_suspended", "connection_id", "suspended"))

    id: Mapped[int] = key()
    connection_id: Mapped[int] = connection_ref()
    kind: Mapped[str] = mapped_column(String(8))
    idp_id: Mapped[str] = mapped_column(String(255))
    atlassian_id: Mapped[str] = mapped_column(String(128))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = stamped()


class SyncRun(ConnectionPart, Base):
    """One run of the pipeline for a connection: trigger, outcome, figures and the plan."""

    __tablename__ = "sync_run"
    # Run history is keyset-paged per connection, newest first.
    __table_args__ = (Index("ix_sync_run_connection_id_id", "connection_id", "id"),)

    trigger: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.RUNNING)
    reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    plan: Mapped[str | None] = mapped_column(Text)
    ops_total: Mapped[int] = mapped_column(Integer, default=0)
    ops_done: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(64))
    # A targeted run's IdP ids ({"users": [...], "groups": [...]}); NULL for a whole run.
    scope: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = stamped()
    finished_at: Mapped[datetime | None] = moment()


class Change(Base):
    """One applied (or failed) op of a run, with what the remote said."""

    __tablename__ = "change"
    # A run's changes are keyset-paged by id, optionally for one outcome (failures are few).
    __table_args__ = (Index("ix_change_run_id_id", "run_id", "id"),
                      Index("ix_change_run_id_outcome_id", "run_id", "outcome", "id"))

    id: Mapped[int] = key()
    # No index of its own: ix_change_run_id_id leads with it, and a first sync writes millions.
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    group_id: Mapped[str | None] = mapped_column(String(128))
    group_name: Mapped[str | None] = mapped_column(String(255))
    account_id: Mapped[str | None] = mapped_column(String(128))
    idp_user_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    before: Mapped[str | None] = mapped_column(String(64))
    after: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = stamped()


class GroupMapping(ConnectionPart, Base):
    """A manual-mode rule: the IdP group (by name or IdP id) feeds these Atlassian groups."""

    __tablename__ = "group_mapping"

    position: Mapped[int] = mapped_column(Integer, default=0)
    idp_group: Mapped[str] = mapped_column(String(255))
    atlassian_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
