"""Record what a verified webhook named and enqueue the run: never sync inline.

Order matters: the database flag (`Connection.pending_changes`) is committed first (only when
not already set), then the references go into the pending set, then the run is enqueued —
unless the pending-set write saw that a job a webhook enqueued still waits (it will drain them). A run that starts in between
either sees the references or leaves them for the job this enqueue makes; if Redis loses the
set, the flag still makes the next run (the schedule tick picks it up) an ordinary one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import timedelta

from redis import Redis
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from app import triggers
from app.db import Database
from app.models import Connection
from app.models.installation import utcnow
from app.models.webhook import WebhookDelivery
from app.webhooks.named import EVERYTHING, Named
from app.webhooks.signatures import TOLERANCE_SECONDS
from workers import events

log = logging.getLogger(__name__)
TRIGGER = events.WEBHOOK


def first_delivery(db: Database, connection_id: int, message_id: str) -> bool:
    """False when this message id was accepted before (a replay or a sender's retry)."""
    try:
        with db.session() as session:
            session.add(WebhookDelivery(connection_id=connection_id, message_id=message_id))
            if random.random() < 0.01:  # keep the table small: ids older than the tolerance
                old = utcnow() - timedelta(seconds=4 * TOLERANCE_SECONDS)
                session.execute(delete(WebhookDelivery).where(
                    WebhookDelivery.connection_id == connection_id,
                    WebhookDelivery.received_at < old))
    except IntegrityError:
        return False
    return True


def record(db: Database, connection_id: int, named: Named,
           redis: Callable[[], Redis] | None, flagged: bool | None = None) -> bool:
    """Flag, remember and enqueue; False when the connection may not run (nothing is done).

    `flagged` is the connection's `pending_changes` as the caller just read it after checking
    the connection is active (the webhook handler does); None makes this function check both.
    """
    if named.empty():
        return True
    if flagged is None:
        with db.session() as session:
            conn = session.get(Connection, connection_id)
            inactive = conn.inactive_reason() if conn is not None else "gone"
            if inactive:
                log.info("webhook for connection %s not recorded: %s", connection_id, inactive)
                return False
            flagged = conn.pending_changes
    if not flagged:
        # Only an unflagged row is written: a burst does not rewrite (and lock) it each time.
        with db.session() as session:
            session.execute(update(Connection)
                            .where(Connection.id == connection_id,
                                   Connection.pending_changes.is_(False))
                            .values(pending_changes=True))
    if redis is None:
        return True
    try:
        client = redis()
        _, joined = events.add_and_check(client, connection_id, named.members())
    except Exception:
        # the flag is committed: the next run (the tick's, at the latest) is an ordinary one
        log.warning("pending set of connection %s not written", connection_id, exc_info=True)
        triggers.enqueue(connection_id, redis, TRIGGER)
        return True
    if not joined:  # in a burst, only the first delivery (per waiting job) enqueues
        # An event that names people makes a run scoped to them: it need not queue behind the
        # bulk work of big connections (the drain still widens it if the set grows past 500).
        _enqueue(client, connection_id, targeted=EVERYTHING not in named.members())
    return True


def _enqueue(client: Redis, connection_id: int, targeted: bool) -> None:
    from workers.queue import JOB_TIMEOUT, NotInstalled, enqueue_sync

    try:
        job_id = enqueue_sync(client, connection_id, trigger=TRIGGER, targeted=targeted)
        events.mark_enqueued(client, connection_id, job_id, JOB_TIMEOUT)
    except NotInstalled as exc:
        log.info("sync not enqueued: %s", exc)
    except Exception:
        # recorded in the set and the flag: the schedule tick runs it at the latest
        log.warning("could not enqueue the sync of connection %s; the schedule will pick it up",
                    connection_id, exc_info=True)
