"""What the last trusted fetch of a connection left behind: the base and cursor of the next incremental one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.models.columns import connection_ref, moment, stamped, utcnow


class SourceState(Base):
    """One row per connection whose source reads changes only.

    `snapshot` is the stored base blob of a snapshot (in its own row, `SourceBase`), and
    `delta` (when set) what was changed of it since; together they are the snapshot `cursor`
    belongs to (see workers/sync/snapshots.py for the layout, versioned by `schema_version`). `settings_hash`
    fingerprints the connection's kind and non-secret settings: a different IdP or filter
    must never receive changes on top of another one's base. `full_at` is when the read this
    state descends from was a full one; past a maximum age the next run reads in full again.
    """

    __tablename__ = "source_state"

    connection_id: Mapped[int] = connection_ref(primary_key=True)
    schema_version: Mapped[int] = mapped_column(Integer)
    settings_hash: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str] = mapped_column(Text)
    # The base blob's length, so that choosing between a delta and the whole base reads no blob
    base_size: Mapped[int] = mapped_column(Integer, default=0)
    # What later runs changed of `snapshot` (see workers/sync/snapshots.py `delta`); NULL: none
    # (deferred, as `desired`: a run reads them only once the IdP reported a change)
    delta: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True,
                                                deferred_group="blobs")
    # The desired state of this snapshot as the run that stored it made it
    # (workers/sync/kept_desired.py); NULL: none kept, the next run maps the snapshot again
    desired: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True,
                                                  deferred_group="blobs")
    user_count: Mapped[int] = mapped_column(Integer, default=0)
    group_count: Mapped[int] = mapped_column(Integer, default=0)
    full_at: Mapped[datetime] = moment()
    saved_at: Mapped[datetime] = stamped(onupdate=utcnow)
    base: Mapped[SourceBase | None] = relationship(
        primaryjoin="SourceState.connection_id == foreign(SourceBase.connection_id)",
        cascade="all, delete-orphan", uselist=False, lazy="select")

    @property
    def snapshot(self) -> bytes | None:
        """The base blob (loaded from its row on first use)."""
        return self.base.blob if self.base is not None else None

    @snapshot.setter
    def snapshot(self, blob: bytes) -> None:
        if self.base is None:
            self.base = SourceBase(blob=blob)
        else:
            self.base.blob = blob
        self.base_size = len(blob)


class SourceBase(Base):
    """The base blob of a connection's SourceState, apart from it: a run that changed little
    rewrites the state's cursor and delta, and a row holding the base too (megabytes, at a
    million memberships) would be written whole again each time (SQLite stores a row's
    columns together; PostgreSQL's TOAST would keep it, SQLite has none)."""

    __tablename__ = "source_base"

    # the connection's, not the state's: SQLite's table rebuilds (a migration's
    # batch_alter_table) then never cascade into it
    connection_id: Mapped[int] = connection_ref(primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
