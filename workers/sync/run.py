"""One run's context: what the pipeline reads once from the database before it starts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Connection, SyncRun
from workers.errors import Stop
from workers.sources import registry
from workers.sources.base import Source
from workers.sync import linkstore, mirror, reconcile
from workers.sync.planner import Links
from workers.sync.policy import ConnectionPolicy, from_connection
from workers.sync.scope import Scope
from workers.vocabulary import RunStatus

APPLIED_STATUSES = tuple(s for s in RunStatus if s.applied)


class RunFailed(Stop):
    """A run cannot go on; the message is what the admin reads."""


@dataclass(frozen=True, slots=True)
class LastRun:
    """The connection's most recent finished run before this one (dry runs included)."""

    status: str
    dry_run: bool
    counts: dict[str, Any]

    @property
    def converged(self) -> bool:
        """It applied its whole plan: the site then matched what it planned for."""
        return (self.status == "succeeded" and not self.dry_run
                and not self.counts.get("failed") and not self.counts.get("skipped"))


@dataclass(frozen=True, slots=True)
class RunContext:
    """Everything a run needs that does not change while it runs."""

    run_id: int
    connection_id: int
    installation_id: int
    trigger: str
    dry_run: bool
    policy: ConnectionPolicy
    basis: str
    """Fingerprint of the connection's mapping, filters and policy: plans build on each other
    only while it stays the same."""
    source: Source
    links: Links
    scope: Scope
    previous_user_count: int | None
    last: LastRun | None
    reconcile: str | None
    """Why this run reads the managed groups from the site (None: it uses the mirror)."""

    @property
    def builds_on_last(self) -> bool:
        """Whether this run may plan only what changed since the last run's snapshot."""
        return (self.reconcile is None and self.last is not None and self.last.converged
                and self.last.counts.get("basis") == self.basis)


def basis_of(conn: Connection) -> str:
    text = json.dumps([conn.mapping_mode, conn.mapping_config(), conn.filters,
                       conn.default_groups, conn.deprovision, conn.policy],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_source(conn: Connection, decrypt: Callable[[str], str], allow_private: bool) -> Source:
    """The connection's source with its settings and decrypted secrets, validated again."""
    settings = dict(conn.settings or {})
    settings.update(conn.get_secrets(decrypt))
    settings["connection_id"] = conn.id
    cls = registry.get(conn.kind)
    known = cls.settings_schema._declared_fields
    return cls(cls.settings_schema().load({k: v for k, v in settings.items() if k in known}),
               allow_private=allow_private)


def load(session: Session, run_id: int, decrypt: Callable[[str], str], allow_private: bool,
         now: datetime | None = None, links: bool = True) -> RunContext:
    """The run's context; `links=False` leaves the links empty, for a caller that loads them
    only once it knows the run plans anything (`with_links`)."""
    run = session.get(SyncRun, run_id)
    conn = session.get(Connection, run.connection_id)
    inactive = conn.inactive_reason()
    if inactive:
        raise RunFailed(f"nothing was run: {inactive}")
    policy = from_connection(conn.mapping_mode, conn.mapping_config(), conn.filters,
                             conn.default_groups, conn.deprovision, conn.policy)
    last = last_run(session, conn.id, run_id)
    why = reconcile.reason(trigger=run.trigger, mirror_built=mirror.is_built(session, conn.id),
                           reconciled_at=conn.reconciled_at,
                           interval_hours=conn.reconcile_interval_hours,
                           last_status=last.status if last and not last.dry_run else None,
                           now=now or datetime.now(UTC))
    return RunContext(run_id=run_id, connection_id=conn.id, installation_id=conn.installation_id,
                      trigger=run.trigger, dry_run=run.dry_run, policy=policy,
                      basis=basis_of(conn), source=make_source(conn, decrypt, allow_private),
                      links=linkstore.load(session, conn.id) if links else Links(),
                      scope=Scope.from_json(run.scope),
                      previous_user_count=previous_user_count(session, conn.id), last=last,
                      reconcile=why)


def last_run(session: Session, connection_id: int, run_id: int) -> LastRun | None:
    row = session.execute(select(SyncRun.status, SyncRun.dry_run, SyncRun.counts).where(
        SyncRun.connection_id == connection_id, SyncRun.id < run_id,
        SyncRun.status != "running").order_by(SyncRun.id.desc()).limit(1)).first()
    return LastRun(row.status, bool(row.dry_run), dict(row.counts or {})) if row else None


def previous_user_count(session: Session, connection_id: int) -> int | None:
    counts = session.scalars(select(SyncRun.counts).where(
        SyncRun.connection_id == connection_id, SyncRun.status.in_(APPLIED_STATUSES),
        SyncRun.dry_run.is_(False)).order_by(SyncRun.id.desc()).limit(1)).first()
    return counts.get("desired_users") if counts else None


def with_links(session: Session, ctx: RunContext) -> RunContext:
    """`ctx` with the connection's links loaded."""
    return replace(ctx, links=linkstore.load(session, ctx.connection_id))
