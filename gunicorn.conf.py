"""gunicorn settings read from the working directory: threaded workers; the embedded Redis is the master's own."""

from __future__ import annotations

import os
from typing import Any

# Threaded workers keep connections alive: a sync worker closes each one after its answer, so
# every IdP delivery paid a new TCP connection, and a request waiting on the database, Redis
# or an outbound call held the whole worker. The Procfile's --workers (WEB_CONCURRENCY, one per
# core) sets the processes; the threads overlap those waits. README: Production.
worker_class = "gthread"
threads = 4

_embedded: dict[str, Any] = {}


def on_starting(server: Any) -> None:
    """On embedded defaults (no REDIS_URL) the master starts redis-server before forking.

    Started in a worker instead, it would belong to that worker: a recycled worker would take
    it away from the others, and its stop on SIGTERM would race theirs. Workers reach the
    master's server by URL and never stop it; the master stops it when it exits.
    """
    if os.environ.get("REDIS_URL"):
        return
    from app import config, redis_conn

    settings = config.load()
    redis = redis_conn.embedded(settings["INSTANCE_PATH"])
    _embedded["redis"] = redis
    os.environ["REDIS_URL"] = redis_conn.url_of(redis)


def on_exit(server: Any) -> None:
    redis = _embedded.pop("redis", None)
    if redis is not None:
        from app import redis_conn

        redis_conn.stop(redis)
