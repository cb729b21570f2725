"""Atlassian's 2026 limits: per-second burst buckets per credential and class, and an hourly
points quota for app traffic (Connect JWT, OAuth, Forge; API tokens are exempt), with the 429
headers of each."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

NEAR_LIMIT_FRACTION = 0.2


@dataclass
class Bucket:
    rate: float  # tokens per second
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]


BURST_REASON = "jira-burst-based"
QUOTA_REASON = "jira-quota-based"
APP_TRAFFIC = ("jwt", "oauth", "forge")  # principal kinds that draw on the app's points


class PointsQuota:
    """An hourly points budget shared by all app traffic to this site (Tier 2, per tenant):
    each call costs one point; the window starts at the first call and resets an hour later."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.points_per_hour: int | None = None
        self.used = 0
        self.window_start = 0.0

    def set(self, points_per_hour: int | None) -> None:
        with self._lock:
            self.points_per_hour, self.used, self.window_start = points_per_hour, 0, 0.0

    def check(self, principal_kind: str) -> Decision | None:
        with self._lock:
            if self.points_per_hour is None or principal_kind not in APP_TRAFFIC:
                return None
            now = self._clock()
            if now - self.window_start >= 3600:
                self.window_start, self.used = now, 0
            allowed = self.used < self.points_per_hour
            if allowed:
                self.used += 1
            reset_at = self.window_start + 3600
            headers = {"X-RateLimit-Limit": str(self.points_per_hour),
                       "X-RateLimit-Remaining": str(self.points_per_hour - self.used),
                       "X-RateLimit-Reset": datetime.fromtimestamp(reset_at, UTC).isoformat(
                           timespec="seconds").replace("+00:00", "Z")}
            if self.points_per_hour - self.used < NEAR_LIMIT_FRACTION * self.points_per_hour:
                headers["X-RateLimit-NearLimit"] = "true"
            if not allowed:
                headers["Retry-After"] = str(max(1, math.ceil(reset_at - now)))
                headers["RateLimit-Reason"] = QUOTA_REASON
            return Decision(allowed, headers)


class RateLimits:
    """Off until `set` is called; then each (credential, read|write) pair has its own bucket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: dict[str, tuple[float, float]] = {}
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self.reason = BURST_REASON
        self.monotonic: Callable[[], float] = time.monotonic
        """The buckets' clock; a test may hold it still, so a loaded machine cannot refill them."""

    def set(self, *, read: tuple[float, float] | None = None,
            write: tuple[float, float] | None = None,
            reason: str = BURST_REASON) -> None:
        """Rate (per second) and burst for each class; None leaves that class unlimited."""
        if reason not in (BURST_REASON, "jira-cost-based"):
            raise ValueError(f"reason must be {BURST_REASON} or jira-cost-based")
        with self._lock:
            self._config = {k: v for k, v in (("read", read), ("write", write)) if v}
            self._buckets.clear()
            self.reason = reason

    def off(self) -> None:
        self.set()

    def check(self, credential: str, klass: str) -> Decision | None:
        """None when the class is unlimited; else whether to serve and the headers to send."""
        with self._lock:
            if klass not in self._config:
                return None
            rate, burst = self._config[klass]
            now = self.monotonic()
            bucket = self._buckets.setdefault((credential, klass),
                                              Bucket(rate, burst, burst, now))
            allowed = bucket.take(now)
            return Decision(allowed, self._headers(bucket, allowed))

    def _headers(self, bucket: Bucket, allowed: bool) -> dict[str, str]:
        missing = max(0.0, 1 - bucket.tokens)
        wait = missing / bucket.rate if bucket.rate > 0 else 3600.0
        reset = datetime.fromtimestamp(time.time() + (bucket.burst - bucket.tokens) / max(
            bucket.rate, 1e-9), UTC)
        headers = {"X-RateLimit-Limit": str(int(bucket.burst)),
                   "X-RateLimit-Remaining": str(int(bucket.tokens)),
                   "X-RateLimit-Reset": reset.isoformat(timespec="seconds").replace(
                       "+00:00", "Z")}
        if bucket.tokens < NEAR_LIMIT_FRACTION * bucket.burst:
            headers["X-RateLimit-NearLimit"] = "true"
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
            headers["RateLimit-Reason"] = self.reason
        return headers
