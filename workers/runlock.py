"""A per-connection run lock in Redis with a heartbeat, so a killed worker's lock expires."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class LockTimeout(Exception):
    """The lock stayed taken for longer than the caller was willing to wait."""


def compare_and_delete(redis: Redis, key: str, value: str) -> bool:
    return bool(redis.eval(_RELEASE, 1, key, value))


@contextmanager
def held(redis: Redis, key: str, ttl: int, wait: float, poll: float = 0.5) -> Iterator[str]:
    """Hold `key` for the duration of the block, renewing it every ttl/3 seconds."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not redis.set(key, token, nx=True, ex=ttl):
        if time.monotonic() >= deadline:
            raise LockTimeout(f"{key} is still held after {wait:.0f} s")
        time.sleep(poll)
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl / 3):
            try:
                redis.eval(_RENEW, 1, key, token, ttl)
            except Exception:  # a Redis blip: the next beat retries; expiry is the fallback
                continue

    beat = threading.Thread(target=heartbeat, name=f"lock-{key}", daemon=True)
    beat.start()
    try:
        yield token
    finally:
        stop.set()
        beat.join(timeout=2)
        # Redis gone: the lock expires by itself after ttl.
        with contextlib.suppress(Exception):
            compare_and_delete(redis, key, token)
