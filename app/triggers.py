"""From a stored change (a SCIM push, an Atlassian webhook) to a sync: flag the connection in the
same transaction, enqueue after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis import Redis
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from app.models.connection import Connection
from workers.vocabulary import Trigger

log = logging.getLogger(__name__)
PUSH = Trigger.PUSH  # the name the schedule tick also uses for pending pushes


def notify_change(session: Session, connection_id: int,
                  redis: Callable[[], Redis], trigger: str = PUSH) -> None:
    """Mark the connection as having pending changes and enqueue its sync once `session` commits.

    The flag is written in the caller's transaction, so it exists exactly when the pushed
    data does. The enqueue happens after commit (a worker must see the data); it joins the
    connection's waiting sync, so a burst of pushes yields a handful of runs. A disabled
    connection, or one whose site is not enabled, is neither flagged nor synced.
    """
    conn = session.get(Connection, connection_id)
    inactive = conn.inactive_reason() if conn is not None else f"connection {connection_id} is gone"
    if inactive:
        log.info("change for connection %s not synced: %s", connection_id, inactive)
        return
    # Skipping rows already flagged keeps a burst from rewriting (and locking) the row each time.
    session.execute(update(Connection)
                    .where(Connection.id == connection_id, Connection.pending_changes.is_(False))
                    .values(pending_changes=True))
    pending = session.info.setdefault("pending_syncs", {})
    if not pending:
        event.listen(session, "after_commit", lambda s: _after_commit(s, redis), once=True)
    pending.setdefault(connection_id, trigger)


def _after_commit(session: Session, redis: Callable[[], Redis]) -> None:
    for connection_id, trigger in sorted(session.info.pop("pending_syncs", {}).items()):
        enqueue(connection_id, redis, trigger)


def enqueue(connection_id: int, redis: Callable[[], Redis], trigger: str = PUSH) -> bool:
    """Ask for a sync; False when the queue is unreachable (the schedule tick will catch up)."""
    from workers.queue import NotInstalled, enqueue_sync

    try:
        enqueue_sync(redis(), connection_id, trigger=trigger)
        return True
    except NotInstalled as exc:
        log.info("sync not enqueued: %s", exc)
        return False
    except Exception:
        # The push is committed and the connection flagged: losing the queue must not fail it.
        log.warning("could not enqueue the sync of connection %s; the schedule will pick it up",
                    connection_id, exc_info=True)
        return False
