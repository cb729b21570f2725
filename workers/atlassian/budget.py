"""The app's hourly Atlassian points budget, kept in Redis and shared fairly between sites.

Atlassian counts all of an app's Connect, OAuth and Forge traffic against one hourly pool
(Tier 1, shared by every tenant) since March 2026. Without a shared count, one site's first
sync of a million memberships would spend the pool and every other site would meet 429s for
the rest of the hour. Each call takes a point here first, atomically across every worker: a
site may use at most `tenant_share` of the pool, so the others always have room.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from workers.atlassian.errors import QuotaExhaustedError

log = logging.getLogger(__name__)
WINDOW = 3600  # seconds; the count restarts on the hour (Atlassian's own window is hourly too)
KEY = "usersync:atlassian-budget:{window}"

_TAKE = """
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
local mine = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if total >= tonumber(ARGV[2]) then return 1 end
if mine >= tonumber(ARGV[3]) then return 2 end
redis.call('HINCRBY', KEYS[1], 'total', 1)
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 0
"""


class AppBudget:
    """One site's view of the shared pool: `take(operation)` before each app-traffic call."""

    def __init__(self, redis: Redis, tenant: str, points_per_hour: int,
                 tenant_share: float = 0.25, clock: Callable[[], float] = time.time) -> None:
        if points_per_hour <= 0 or not 0 < tenant_share <= 1:
            raise ValueError("points_per_hour must be positive and tenant_share in (0, 1]")
        self.redis, self.tenant, self.limit = redis, tenant, points_per_hour
        self.cap = max(1, int(points_per_hour * tenant_share))
        self._clock = clock
        self._script = redis.register_script(_TAKE)

    def take(self, operation: str) -> None:
        """Count one point, or raise QuotaExhaustedError (the run is deferred to the hour's end).

        Redis being unreachable never stops a sync: Atlassian still enforces its own limit,
        and its 429s defer the run the same way."""
        now = self._clock()
        window = int(now // WINDOW)
        try:
            verdict = int(self._script(keys=[KEY.format(window=window)],
                                       args=[self.tenant, self.limit, self.cap, WINDOW * 2]))
        except RedisError:
            log.warning("the shared Atlassian budget is unreachable; sending without it",
                        exc_info=True)
            return
        if verdict == 0:
            return
        wait = (window + 1) * WINDOW - now
        if verdict == 1:
            reason = f"the app's hourly Atlassian budget ({self.limit} points, shared by every site) is used up"
        else:
            reason = (f"this site has used its share ({self.cap} of {self.limit} points) of the "
                      "app's hourly Atlassian budget, so that other sites keep theirs")
        raise QuotaExhaustedError(operation, f"{reason}; the run continues in {wait / 60:.0f} min",
                                  retry_after=wait, status=None)
