"""Handing work to the worker from a request: the Redis connection, or a clear 503."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from app import extensions
from app.admin.errors import ApiError

T = TypeVar("T")


def redis() -> Redis:
    return extensions.redis(current_app.config)


def with_queue(action: Callable[[Redis], T]) -> T:
    """Run `action(redis)`; the queue being unreachable is the operator's problem, said plainly."""
    try:
        return action(redis())
    except (RedisError, OSError) as exc:
        raise ApiError(503, f"the work queue is unreachable right now ({type(exc).__name__}); "
                            "try again in a moment") from None
