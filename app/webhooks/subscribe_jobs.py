"""Enqueue the subscription jobs (workers/subscriptions.py) from the web side, by dotted path."""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis import Redis

log = logging.getLogger(__name__)
RENEW_JOB = "workers.subscriptions.ensure_subscriptions"


def enqueue_renewal(connection_id: int, redis: Callable[[], Redis] | None) -> str | None:
    """Ask a worker to (re)create or renew the connection's IdP subscriptions; None if no queue."""
    if redis is None:
        return None
    from workers.queue import queue

    job_id = f"subscriptions-{connection_id}"
    try:
        q = queue(redis())
        existing = q.fetch_job(job_id)
        if existing is not None and existing.get_status(refresh=False) in ("queued", "deferred"):
            return job_id  # one waiting renewal is enough
        q.enqueue(RENEW_JOB, connection_id, job_id=job_id, job_timeout=300, result_ttl=3600)
    except Exception:
        log.warning("could not enqueue the subscription renewal of connection %s", connection_id,
                    exc_info=True)
        return None
    return job_id
