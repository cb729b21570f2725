"""Which RQ queue a sync goes to, decided from what is known before it starts.

Three queues, which every worker takes from in this order (RQ dequeues from the first
non-empty queue it listens on), so a run somebody is waiting for never queues behind one
tenant's first sync of a million memberships:

- `usersync-interactive`: what a person or an IdP event is waiting for: "Sync now", webhooks,
  SCIM pushes, runs scoped to the users or groups an event named, the schedule tick itself;
- `usersync`: the ordinary scheduled runs of connections of ordinary size;
- `usersync-bulk`: first syncs, drift reconciles and full runs of big connections, which
  read (and on a first sync write) the whole directory.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.db import Database

INTERACTIVE = "usersync-interactive"
"""Runs someone waits for (Sync now, webhooks, pushes, targeted runs) and the schedule tick."""
ORDINARY = "usersync"
"""Scheduled runs of connections under BULK_MEMBERSHIPS (the queue's name before the split)."""
BULK = "usersync-bulk"
"""First syncs, reconciles and full runs of connections of BULK_MEMBERSHIPS or more."""
QUEUES = (INTERACTIVE, ORDINARY, BULK)
"""Priority order: `rq worker usersync-interactive usersync usersync-bulk`."""
UNHURRIED = (INTERACTIVE, ORDINARY)
"""The queues of a worker that never takes bulk work, so a bulk run never holds every worker."""




def _configured_bulk() -> int:
    """USERSYNC_BULK_MEMBERSHIPS: a connection whose last run planned this many memberships or
    more runs full syncs as bulk (from this process's settings, read once)."""
    from app.settings import current

    return current().bulk_memberships


PEOPLE_TRIGGERS = frozenset({"manual", "webhook", "push"})
"""Triggers behind which a person or an IdP event waits for the result."""
BULK_TRIGGERS = frozenset({"reconcile"})
"""Triggers that read the whole site whatever the connection's size."""
COMPLETED = ("succeeded", "partially_failed")
"""Statuses of a run that applied its plan (the engine's APPLIED_STATUSES)."""


@dataclass(frozen=True)
class RunHistory:
    """What the connection's earlier runs say about the next one."""

    first_sync_done: bool = False
    """A real (not dry) run applied its plan at least once."""
    memberships: int | None = None
    """Memberships the latest run that planned wanted (None: no run planned yet)."""


def select_queue(trigger: str, history: RunHistory, *, targeted: bool = False,
                 bulk_memberships: int | None = None) -> str:
    """The queue for a run of `trigger` of a connection with `history`.

    `targeted`: the run is scoped to the users or groups an event named, so it costs in
    proportion to the event, not to the directory.
    """
    if trigger in BULK_TRIGGERS:
        return BULK
    if bulk_memberships is None:
        bulk_memberships = _configured_bulk()
    big = history.memberships is None or history.memberships >= bulk_memberships
    if not history.first_sync_done and big:
        # Size unknown (or known big): a first sync reads and writes the whole directory.
        return BULK
    if targeted:
        return INTERACTIVE
    if history.memberships is not None and history.memberships >= bulk_memberships:
        return BULK
    if trigger in PEOPLE_TRIGGERS:
        return INTERACTIVE
    return ORDINARY


def select_approval_queue(planned_ops: int, *, bulk_memberships: int | None = None) -> str:
    """The queue for applying an approved held plan of `planned_ops` changes: an admin waits for
    it, but a held first sync of a million memberships is still bulk work."""
    limit = _configured_bulk() if bulk_memberships is None else bulk_memberships
    return BULK if planned_ops >= limit else INTERACTIVE


def planned_ops(db: Database, run_id: int) -> int:
    """How many changes the run's stored plan makes (its counts' `planned` summary)."""
    from app.models import SyncRun

    with db.session() as session:
        counts = session.scalar(select(SyncRun.counts).where(SyncRun.id == run_id)) or {}
    planned = counts.get("planned") if isinstance(counts, dict) else None
    if not isinstance(planned, dict):
        return 0
    return sum(v for v in planned.values() if isinstance(v, int))


def run_history(db: Database, connection_id: int) -> RunHistory:
    """The connection's RunHistory, from its latest runs."""
    return run_histories(db, [connection_id])[connection_id]


def run_histories(db: Database, connection_ids: list[int]) -> dict[int, RunHistory]:
    """The RunHistory of each connection, in two queries however many there are (the tick)."""
    from app.models import SyncRun

    ids = sorted(set(connection_ids))
    with db.session() as session:
        done = set(session.scalars(select(SyncRun.connection_id).distinct().where(
            SyncRun.connection_id.in_(ids), SyncRun.dry_run.is_(False),
            SyncRun.status.in_(COMPLETED))))
        # Per connection, the latest run that got as far as a plan (a preview counts: it read
        # everything); newest first, so the first one seen per connection wins.
        rows = session.execute(select(SyncRun.connection_id, SyncRun.counts).where(
            SyncRun.connection_id.in_(ids), SyncRun.status != "running")
            .order_by(SyncRun.connection_id, SyncRun.id.desc()))
        sizes: dict[int, int] = {}
        for cid, counts in rows:
            if cid not in sizes and isinstance(counts, dict) and \
                    isinstance(counts.get("desired_memberships"), int):
                sizes[cid] = counts["desired_memberships"]
    return {cid: RunHistory(first_sync_done=cid in done, memberships=sizes.get(cid)) for cid in ids}
