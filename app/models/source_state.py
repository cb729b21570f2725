"""What the last trusted fetch of a connection left behind: the base and cursor of the next incremental one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import connection_ref, moment, stamped, utcnow


class SourceState(Base):
    """One row per connection whose source reads changes only.

    `snapshot` is the zlib-compressed JSON of a snapshot, and `delta` (when set) what was
    changed of it since; together they are the snapshot `cursor` belongs to (see
    workers/sync/snapshots.py for the layout, versioned by `schema_version`). `settings_hash`
    fingerprints the connection's kind and non-secret settings: a different IdP or filter
    must never receive changes on top of another one's base. `full_at` is when the read this
    state descends from was a full one; past a maximum age the next run reads in full again.
    """

    __tablename__ = "source_state"

    connection_id: Mapped[int] = connection_ref(primary_key=True)
    schema_version: Mapped[int] = mapped_column(Integer)
    settings_hash: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str] = mapped_column(Text)
    snapshot: Mapped[bytes] = mapped_column(LargeBinary)
    # What later runs changed of `snapshot` (see workers/sync/snapshots.py `delta`); NULL: none
    delta: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    user_count: Mapped[int] = mapped_column(Integer, default=0)
    group_count: Mapped[int] = mapped_column(Integer, default=0)
    full_at: Mapped[datetime] = moment()
    saved_at: Mapped[datetime] = stamped(onupdate=utcnow)
