"""Connections: list, create from a kind, read, change, enable/disable, delete, test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import defer

from app import extensions
from app.admin import connection_settings, forms, present, tenancy
from app.admin.api import Context, operation
from app.admin.errors import validation
from app.admin.schemas import common
from app.admin.schemas import connections as s
from app.models import Connection, Link, SyncRun
from app.models.scim import ScimToken
from workers import cadence as schedules
from workers.sources.base import ConnectionCheck, SourceError

TAG = "connections"


def _last_run(session, conn_id: int) -> SyncRun | None:  # type: ignore[no-untyped-def]
    return session.scalars(select(SyncRun).options(defer(SyncRun.plan))
                           .where(SyncRun.connection_id == conn_id)
                           .order_by(SyncRun.id.desc()).limit(1)).first()


def answer(session, conn: Connection) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return present.connection(conn, connection_settings.redacted(conn),
                              connection_settings.scim_base_url(session, conn),
                              _last_run(session, conn.id))


@operation("/kinds", "GET", summary="Every IdP kind with its settings form", tag=TAG,
           answer=s.KindList)
def list_kinds(ctx: Context) -> dict[str, Any]:
    return {"items": forms.kinds()}


@operation("/connections", "GET", summary="This site's connections", tag=TAG,
           answer=s.ConnectionList)
def list_connections(ctx: Context) -> dict[str, Any]:
    with extensions.db.session() as session:
        return {"items": [answer(session, c) for c in tenancy.connections(session, ctx.caller)]}


def _schedule(value: str | None, path: str = "schedule") -> str | None:
    try:
        return schedules.normalise(value)
    except schedules.ScheduleError as exc:
        raise validation({path: [str(exc)]}) from None


@operation("/connections", "POST", summary="Create a connection from a kind", tag=TAG,
           body=s.ConnectionCreate, answer=s.Connection, status=201, errors=(400,))
def create_connection(ctx: Context) -> dict[str, Any]:
    body = ctx.body
    plan_schedule = _schedule(body.get("schedule", "hour"))
    with extensions.db.session() as session:
        conn = Connection(installation_id=ctx.caller.installation.id, name=body["name"].strip()
                          or body["kind"], kind=body["kind"], enabled=body["enabled"],
                          settings={}, mapping_mode="on_the_fly", mapping={}, filters={},
                          default_groups=[], deprovision="remove_from_groups", policy={},
                          schedule=plan_schedule, pending_changes=False)
        connection_settings.store(conn, body["kind"], body["settings"])
        session.add(conn)
        session.flush()
        return answer(session, conn)


@operation("/connections/<int:connection_id>", "GET", summary="One connection", tag=TAG,
           answer=s.Connection, errors=(404,))
def get_connection(ctx: Context, connection_id: int) -> dict[str, Any]:
    with extensions.db.session() as session:
        return answer(session, tenancy.connection(session, ctx.caller, connection_id))


@operation("/connections/<int:connection_id>", "PATCH", summary="Rename or change settings",
           tag=TAG, body=s.ConnectionPatch, answer=s.Connection, errors=(400, 404))
def patch_connection(ctx: Context, connection_id: int) -> dict[str, Any]:
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        if "name" in ctx.body:
            conn.name = ctx.body["name"].strip() or conn.name
        if "settings" in ctx.body:
            connection_settings.store(conn, conn.kind,
                                      connection_settings.merged(conn, ctx.body["settings"]))
        session.flush()
        return answer(session, conn)


@operation("/connections/<int:connection_id>", "DELETE",
           summary="Delete; purge=true also removes links, runs and changes", tag=TAG,
           query=s.DeleteQuery, errors=(404,))
def delete_connection(ctx: Context, connection_id: int) -> None:
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        if ctx.query["purge"]:
            # Children go first explicitly: SQLite only cascades with foreign keys switched on.
            run_ids = select(SyncRun.id).where(SyncRun.connection_id == conn.id)
            from app.models import Change

            session.execute(delete(Change).where(Change.run_id.in_(run_ids)))
            session.execute(delete(SyncRun).where(SyncRun.connection_id == conn.id))
            session.execute(delete(Link).where(Link.connection_id == conn.id))
            session.delete(conn)
            return None
        now = datetime.now(UTC)
        conn.deleted_at, conn.enabled, conn.next_run_at, conn.pending_changes = now, False, None, False
        # An IdP still pushing to a deleted connection must be refused, not silently stored.
        session.execute(update(ScimToken).where(ScimToken.connection_id == conn.id,
                                                ScimToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    return None


def _set_enabled(ctx: Context, connection_id: int, enabled: bool) -> dict[str, Any]:
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        conn.enabled = enabled
        session.flush()
        return answer(session, conn)


@operation("/connections/<int:connection_id>/enable", "POST", summary="Enable syncing", tag=TAG,
           answer=s.Connection, errors=(404,))
def enable_connection(ctx: Context, connection_id: int) -> dict[str, Any]:
    return _set_enabled(ctx, connection_id, True)


@operation("/connections/<int:connection_id>/disable", "POST", summary="Disable syncing",
           tag=TAG, answer=s.Connection, errors=(404,))
def disable_connection(ctx: Context, connection_id: int) -> dict[str, Any]:
    return _set_enabled(ctx, connection_id, False)


def _check(conn: Connection) -> dict[str, Any]:
    """The source's own connection check, under the worker's URL rule (the one config value)."""
    from workers.sync.engine import make_source

    try:
        source = make_source(conn, extensions.secrets.decrypt,
                             bool(current_app.config["ALLOW_PRIVATE_URLS"]))
        check = source.test_connection()
    except SourceError as exc:
        check = ConnectionCheck.failed(exc)
    except ValueError as exc:  # settings the schema now refuses (stored under an older one)
        check = ConnectionCheck(False, f"the stored settings are no longer valid: {exc}", "config")
    return {"ok": check.ok, "reason": check.reason, "message": check.message}


@operation("/connections/<int:connection_id>/test", "POST",
           summary="Can the IdP be reached with these settings?", tag=TAG,
           answer=common.CheckAnswer, errors=(404,))
def test_connection(ctx: Context, connection_id: int) -> dict[str, Any]:
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        session.expunge(conn)
    return _check(conn)


@operation("/connections/test", "POST", summary="Test settings before saving them", tag=TAG,
           body=s.DraftTest, answer=common.CheckAnswer, errors=(400,))
def test_draft(ctx: Context) -> dict[str, Any]:
    draft = Connection(id=0, installation_id=ctx.caller.installation.id, kind=ctx.body["kind"],
                       name="draft", settings={})
    connection_settings.store(draft, ctx.body["kind"], ctx.body["settings"])
    return _check(draft)
