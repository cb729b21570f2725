"""Token-bucket rate limits per credential and endpoint class, with Atlassian's 429 headers."""

from __future__ import annotations

import math
import threading
import time
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


class RateLimits:
    """Off until `set` is called; then each (credential, read|write) pair has its own bucket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: dict[str, tuple[float, float]] = {}
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self.reason = "jira-cost-based"

    def set(self, *, read: tuple[float, float] | None = None,
            write: tuple[float, float] | None = None,
            reason: str = "jira-cost-based") -> None:
        """Rate (per second) and burst for each class; None leaves that class unlimited."""
        if reason not in ("jira-cost-based", "jira-quota-based"):
            raise ValueError("reason must be jira-cost-based or jira-quota-based")
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
            now = time.monotonic()
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
