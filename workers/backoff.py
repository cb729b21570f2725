"""Retry timing shared by every outbound client: Retry-After first, else capped exponential with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How long to wait before retry number `attempt` (1-based), and how many retries at most.

    The defaults are Atlassian's published recommendation: start at 5 s, cap at 30 s,
    jitter x[0.7, 1.3], at most 4 retries per request.
    """

    initial: float = 5.0
    cap: float = 30.0
    jitter_low: float = 0.7
    jitter_high: float = 1.3
    max_retries: int = 4
    max_retry_after: float = 300.0

    def delay(self, attempt: int, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        """Seconds to sleep before retry `attempt`; a server's Retry-After wins when given."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        base = min(self.cap, self.initial * (2 ** (attempt - 1)))
        r = rng or random
        return base * r.uniform(self.jitter_low, self.jitter_high)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
