"""Every request the sandbox served, so tests and benchmarks can count calls and writes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_POSTS = frozenset({"/rest/api/3/permissions/check", "/rest/api/3/permissions/project"})
"""Look-ups that POST their question (the spec gives them READ scope): not writes."""


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    credential: str  # none | jwt | basic | oauth | org-key | forge | forge-user | client
    status: int  # 0 when the connection was dropped without an answer
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)
    """When it was answered (monotonic seconds), so benchmarks can measure achieved rates."""

    @property
    def is_write(self) -> bool:
        if self.method == "POST":
            # the site path, also when it came through the gateway (/ex/jira/{cloudId}/rest/…)
            _, rest, tail = self.path.partition("/rest/")
            return not (rest and rest + tail in READ_POSTS)
        return self.method in WRITE_METHODS


class LockedList(Generic[T]):
    """A thread-safe, append-only list that tests read while the server appends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []

    def add(self, item: T) -> None:
        with self._lock:
            self._items.append(item)

    def all(self) -> list[T]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.all())


class RequestLog(LockedList[LoggedRequest]):
    """Every served request, with a few counting helpers."""

    def __iter__(self):
        return iter(self.all())

    def matching(self, method: str | None = None, path_contains: str = "") -> list[LoggedRequest]:
        return [r for r in self.all()
                if (method is None or r.method == method) and path_contains in r.path]

    def writes(self) -> list[LoggedRequest]:
        return [r for r in self.all() if r.is_write]

    def duplicate_writes(self) -> list[tuple[tuple[str, str, str, bytes], int]]:
        """Successful identical writes served more than once (method, path, query, body)."""
        seen = Counter((r.method, r.path, r.query, r.body) for r in self.writes()
                       if 200 <= r.status < 300)
        return [(key, n) for key, n in seen.items() if n > 1]
