"""Independent calls spread over a few threads, their results in order: no future per call."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_all(fn: Callable[[T], R], items: Iterable[T], concurrency: int,
            name: str = "worker") -> list[R]:
    """`[fn(item) for item in items]`, on up to `concurrency` threads that each take the next
    item when done with one. A thousand membership writes used to be a thousand futures,
    queued and collected one by one by the thread running the sync (a tenth of a change run's
    CPU); here that thread only starts the others and waits. The first exception `fn` raises
    stops the rest being started and is raised again here, as `map` would raise it."""
    items = list(items)
    workers = min(max(1, concurrency), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    results: list[R | None] = [None] * len(items)
    queue = iter(enumerate(items))
    lock = threading.Lock()
    failed: list[BaseException] = []

    def work() -> None:
        while not failed:
            with lock:  # one taker at a time: each item goes to exactly one thread
                taken = next(queue, None)
            if taken is None:
                return
            index, item = taken
            try:
                results[index] = fn(item)
            except BaseException as exc:  # raised again in the caller's thread
                failed.append(exc)
                return

    threads = [threading.Thread(target=work, name=f"{name}-{n}", daemon=True)
               for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return results  # type: ignore[return-value]
