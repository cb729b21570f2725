"""A rate-aware gate shared by the threads calling one site: pauses on 429, paces near the limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

# Atlassian flags X-RateLimit-NearLimit below 20 % left. We aim to keep about half the
# bucket in hand: answers arrive late, so a view of the bucket always lags a little.
TARGET_FRACTION = 0.5
NEAR_LIMIT_FRACTION = 0.2
FIRST_INTERVAL = 0.01  # seconds between starts when we slow down before knowing the rate
MAX_INTERVAL = 5.0
BUCKET_HORIZON = 120.0  # a burst bucket refills within seconds; a reset further off is a quota
RECHECK = 0.05  # a waiting thread looks at the pace again this often
SLOWER = 1.25
WINDOW_SECONDS, WINDOW_ANSWERS = 0.3, 5  # how much we watch before estimating the refill rate
# Relative to the estimated refill rate: drain a full bucket gently, hold at the target,
# and let a nearly empty one refill.
ABOVE_TARGET, AT_TARGET, NEAR_EMPTY = 1.25, 1.0, 0.8


@dataclass(frozen=True, slots=True)
class Budget:
    """What an answer says about the remote bucket: its size, what is left, and whether near."""

    limit: int | None
    remaining: int | None
    near: bool

    @property
    def fraction(self) -> float | None:
        if self.limit and self.remaining is not None:
            return max(0.0, min(1.0, self.remaining / self.limit))
        return NEAR_LIMIT_FRACTION / 2 if self.near else None


def read_budget(headers: Mapping[str, str]) -> Budget:
    """The X-RateLimit-* headers of one answer, tolerating absent or malformed values."""
    return Budget(_int(headers.get("X-RateLimit-Limit")),
                  _int(headers.get("X-RateLimit-Remaining")),
                  (headers.get("X-RateLimit-NearLimit") or "").strip().lower() == "true")


def _resets_later_than(reset: str | None, seconds: float) -> bool:
    """Whether an X-RateLimit-Reset (ISO 8601) lies more than `seconds` ahead."""
    if not reset:
        return False
    try:
        at = datetime.fromisoformat(reset.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - datetime.now(UTC)).total_seconds() > seconds


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


class RateGate:
    """Spaces request starts so the remote bucket neither empties (429) nor idles.

    Every thread calls `acquire()` before a request and `observe()` after it. Without rate
    headers the gate does nothing. With them it estimates the bucket's refill rate from
    what was served and how `Remaining` moved (served + change in remaining, per second),
    then starts requests at about that rate: a bit faster while the bucket is over half
    full, a bit slower when nearly empty. A 429 pauses every thread until its
    Retry-After has passed (`pause`).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 target: float = TARGET_FRACTION) -> None:
        self._clock, self._sleep, self._target = clock, sleep, target
        self._lock = threading.Lock()
        self._interval = 0.0
        self._last_start = float("-inf")
        self._paused_until = 0.0
        self.rate: float | None = None  # estimated refill rate, requests per second
        self._window: tuple[float, int] | None = None  # (start time, remaining then)
        self._served = 0

    @property
    def interval(self) -> float:
        return self._interval

    def acquire(self) -> float:
        """Wait for a start slot; returns the seconds waited.

        Slots are not booked ahead: a sleeper re-checks, so a pace that changes while it
        waits (faster or slower) applies at once.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                start = max(self._last_start + self._interval, self._paused_until)
                if start <= now:
                    self._last_start = now
                    return waited
            wait = min(start - now, RECHECK)
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hold every thread back for `seconds` (a Retry-After applies to the whole credential)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self._window = None  # a pause refills the bucket unobserved: start a new window
            if self.rate is None:
                self._interval = min(MAX_INTERVAL, max(self._interval * SLOWER, FIRST_INTERVAL))

    def observe(self, headers: Mapping[str, str], served: bool = True) -> None:
        """Adjust the pace from one answer's rate-limit headers (`served`: not a 429).

        Headers that describe an hourly points budget (a reset minutes away) are not a
        per-second bucket: pacing by them would crawl, so they are left out."""
        if _resets_later_than(headers.get("X-RateLimit-Reset"), BUCKET_HORIZON):
            return
        budget = read_budget(headers)
        fraction = budget.fraction
        if fraction is None:
            return
        with self._lock:
            if budget.remaining is not None and served:
                self._estimate(budget.remaining, budget.limit)
            self._interval = self._pace(fraction)

    def _estimate(self, remaining: int, limit: int | None) -> None:
        now = self._clock()
        if self._window is None:
            self._window, self._served = (now, remaining), 0
            return
        self._served += 1
        started, remaining_then = self._window
        if now - started < WINDOW_SECONDS or self._served < WINDOW_ANSWERS:
            return
        sample = max(0.1, (self._served + remaining - remaining_then) / (now - started))
        full = limit is not None and max(remaining, remaining_then) >= limit - 1
        if self.rate is None:
            self.rate = sample
        elif full:  # a full bucket hides refill beyond what we used: only a lower bound
            self.rate = max(self.rate, sample)
        else:
            self.rate = (self.rate + sample) / 2
        self._window, self._served = (now, remaining), 0

    def _pace(self, fraction: float) -> float:
        if self.rate is None:  # not measured yet: back off multiplicatively, recover slowly
            if fraction < self._target:
                return min(MAX_INTERVAL, max(self._interval * SLOWER, FIRST_INTERVAL))
            return 0.0 if self._interval < FIRST_INTERVAL else self._interval / SLOWER
        if fraction < NEAR_LIMIT_FRACTION:
            factor = NEAR_EMPTY
        elif fraction < self._target:
            factor = AT_TARGET
        else:
            factor = ABOVE_TARGET
        return min(MAX_INTERVAL, 1.0 / (self.rate * factor))
