"""Enqueue the subscription job (workers/subscriptions.py) from the web side."""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis import Redis

log = logging.getLogger(__name__)


def enqueue_renewal(connection_id: int, redis: Callable[[], Redis] | None) -> str | None:
    """Ask a worker to (re)create or renew the connection's IdP subscriptions; None if no queue."""
    if redis is None:
        return None
    from workers.subscriptions import enqueue

    try:
        return enqueue(redis(), connection_id)
    except Exception:
        log.warning("could not enqueue the subscription renewal of connection %s", connection_id,
                    exc_info=True)
        return None
