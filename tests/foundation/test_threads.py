"""`run_all`: every item once, results in order, spread over threads, the first error raised."""

from __future__ import annotations

import threading
import time

import pytest

from workers.threads import run_all


def test_every_item_once_in_order_on_several_threads():
    seen: list[str] = []
    lock = threading.Lock()

    def fn(n: int) -> int:
        time.sleep(0.001 * (n % 3))  # finishing out of order
        with lock:
            seen.append(threading.current_thread().name)
        return n * n

    assert run_all(fn, range(200), 8, name="t") == [n * n for n in range(200)]
    assert len(seen) == 200 and len(set(seen)) > 1 and all(s.startswith("t-") for s in seen)


def test_one_thread_or_one_item_runs_in_the_callers_thread():
    here = threading.current_thread().name
    assert run_all(lambda _: threading.current_thread().name, [1, 2], 1) == [here, here]
    assert run_all(lambda _: threading.current_thread().name, [1], 8) == [here]
    assert run_all(lambda n: n, [], 8) == []


def test_the_first_error_is_raised_and_stops_the_rest_being_started():
    started: list[int] = []

    def fn(n: int) -> int:
        started.append(n)
        if n == 3:
            raise ValueError("item three")
        time.sleep(0.002)
        return n

    with pytest.raises(ValueError, match="item three"):
        run_all(fn, range(1000), 4)
    assert len(started) < 1000
