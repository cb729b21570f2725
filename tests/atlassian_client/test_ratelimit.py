"""The rate gate's pacing and pausing, on a fake clock (pure logic, no network)."""

from __future__ import annotations

from workers.atlassian.ratelimit import RateGate, read_budget


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_budget_headers() -> None:
    budget = read_budget({"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "3",
                          "X-RateLimit-NearLimit": "true"})
    assert budget.fraction == 0.15 and budget.near
    assert read_budget({}).fraction is None
    assert read_budget({"X-RateLimit-NearLimit": "true"}).fraction == 0.1
    assert read_budget({"X-RateLimit-Limit": "x"}).fraction is None


def test_no_headers_no_pacing() -> None:
    clock = FakeClock()
    gate = RateGate(clock=clock, sleep=clock.sleep)
    for _ in range(10):
        gate.acquire()
        gate.observe({})
    assert clock.slept == []


def test_slows_when_low_and_recovers_when_high() -> None:
    clock = FakeClock()
    gate = RateGate(clock=clock, sleep=clock.sleep)
    for _ in range(10):
        gate.observe({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "1"})
    slow = gate.interval
    assert slow > 0.01
    gate.acquire()
    assert abs(gate.acquire() - slow) < 1e-9  # the second start waits one interval
    for _ in range(200):
        gate.observe({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9"})
    assert gate.interval == 0.0


def test_pause_holds_every_caller() -> None:
    clock = FakeClock()
    gate = RateGate(clock=clock, sleep=clock.sleep)
    gate.pause(2.0)
    assert abs(gate.acquire() - 2.0) < 1e-9
    assert gate.interval > 0  # and it starts again more gently


class Bucket:
    """A token bucket like the remote's, on the fake clock."""

    def __init__(self, clock: FakeClock, rate: float, burst: float) -> None:
        self.clock, self.rate, self.burst = clock, rate, burst
        self.tokens, self.stamp = burst, clock.now

    def take(self) -> tuple[bool, dict[str, str]]:
        self.tokens = min(self.burst, self.tokens + (self.clock.now - self.stamp) * self.rate)
        self.stamp = self.clock.now
        ok = self.tokens >= 1
        if ok:
            self.tokens -= 1
        return ok, {"X-RateLimit-Limit": str(int(self.burst)),
                    "X-RateLimit-Remaining": str(int(self.tokens))}


def test_learns_the_refill_rate_and_stays_under_it() -> None:
    clock = FakeClock()
    gate = RateGate(clock=clock, sleep=clock.sleep)
    bucket = Bucket(clock, rate=20.0, burst=20.0)
    refused, started = 0, clock.now
    for _ in range(400):
        gate.acquire()
        clock.now += 0.002  # the request's own time
        ok, headers = bucket.take()
        refused += not ok
        gate.observe(headers, served=ok)
    elapsed = clock.now - started
    assert gate.rate is not None and 15 < gate.rate < 25
    assert refused <= 3
    assert 400 / elapsed > 0.9 * 20  # close to the limit: the bucket never idles for long
