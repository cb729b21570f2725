"""Injectable faults: error statuses, slow answers, dropped connections and answers cut off part-way."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

KINDS = ("status", "slow", "drop", "cut")


@dataclass
class Fault:
    """One rule: which requests it matches, when it fires and what it does."""

    kind: str = "status"
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    method: str | None = None
    path: str = ""  # substring of the request path; empty matches all
    rate: float | None = None  # fire on this fraction of matching calls (seeded)
    nth: int | None = None  # fire on exactly the Nth matching call (1-based)
    times: int | None = None  # stop after firing this many times
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and self.path in path


class FaultPlan:
    """The active fault rules; the first rule that fires wins. Safe to change at run time."""

    def __init__(self, seed: int = 1) -> None:
        self._rng = random.Random(seed)
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, kind: str = "status", **options: object) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"fault kind must be one of {KINDS}, not {kind!r}")
        fault = Fault(kind=kind, **options)  # type: ignore[arg-type]
        if fault.rate is None and fault.nth is None and fault.times is None:
            fault.rate = 1.0
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng.seed(seed)

    @property
    def rules(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, counting it against every matching rule."""
        with self._lock:
            chosen = None
            for fault in self._rules:
                if not fault.matches(method, path):
                    continue
                fault.seen += 1
                if chosen is None and self._fires(fault):
                    fault.fired += 1
                    chosen = fault
            return chosen

    def _fires(self, fault: Fault) -> bool:
        if fault.times is not None and fault.fired >= fault.times:
            return False
        if fault.nth is not None:
            return fault.seen == fault.nth
        rate = 1.0 if fault.rate is None else fault.rate
        return self._rng.random() < rate
