"""The caller's own objects only: anything of another installation is answered as missing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from app.admin.caller import Caller
from app.admin.errors import not_found
from app.models import Connection, SyncRun

MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger one in a URL names nothing


def connection(session: Session, caller: Caller, connection_id: int, *,
               include_deleted: bool = False) -> Connection:
    conn = session.get(Connection, connection_id) if 0 < connection_id <= MAX_ID else None
    if conn is None or conn.installation_id != caller.installation.id or (
            conn.deleted_at is not None and not include_deleted):
        raise not_found("connection")
    return conn


def run(session: Session, caller: Caller, run_id: int) -> SyncRun:
    """A run of one of the caller's connections (also of one deleted with its history kept)."""
    if not 0 < run_id <= MAX_ID:
        raise not_found("run")
    found = session.execute(
        # The stored plan (megabytes for a first sync) loads only when a view reads it.
        select(SyncRun).options(defer(SyncRun.plan))
        .join(Connection, Connection.id == SyncRun.connection_id)
        .where(SyncRun.id == run_id, Connection.installation_id == caller.installation.id)
    ).scalar_one_or_none()
    if found is None:
        raise not_found("run")
    return found


def connections(session: Session, caller: Caller) -> list[Connection]:
    return list(session.scalars(select(Connection).where(
        Connection.installation_id == caller.installation.id, Connection.deleted_at.is_(None))
        .order_by(Connection.id)))
