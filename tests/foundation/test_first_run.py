"""`usersync run --once`, as a newcomer runs it: every process, the sandbox, the set-up, the sync."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USERSYNC = Path(sys.executable).parent / "usersync"
PROCESSES = ("web", "worker", "clock", "sandbox", "forge", "idp")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> int:
    """A port p with p .. p+n-1 all free (the sandbox site, its invoker and its IdP sit side by side)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p + n < 65535 and all(_free(p + i) for i in range(n)):
            return p
    raise RuntimeError("no run of free ports")


def run_once(instance: Path, *extra: str, timeout: float = 150) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USERSYNC_")
           and k not in ("DATABASE_URL", "REDIS_URL")}  # the embedded defaults, as a first run has
    env.update(USERSYNC_INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT))
    started = time.monotonic()
    done = subprocess.run([str(USERSYNC), "run", "--once", "--port", str(free_ports(1)),
                           "--sandbox-port", str(free_ports(3)), "--people", "60", *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.mark.skipif(not USERSYNC.exists(), reason="the usersync entry point is not installed")
def test_run_once_sets_up_syncs_and_says_so_in_a_few_lines(tmp_path):
    code, out, took = run_once(tmp_path / "instance")
    assert code == 0, out
    assert took < 120, f"--once took {took:.0f} s"
    assert re.search(r"\[7/8\] running the first sync \.\.\. done", out), out
    assert "[8/8] installing the Forge app (adopts the Connect install) ... done" in out, out
    assert "OAuth grant stored" in out
    found = re.search(r"First sync succeeded: (\d+) groups created, (\d+) memberships added, "
                      r"(\d+) users invited", out)
    assert found, out
    groups, members, invited = map(int, found.groups())
    assert groups == 23 and invited == 57 and members > invited  # 60 people, 3 of them inactive
    assert "/dev/admin" in out and "/atlassian-connect.json" in out
    assert "Traceback" not in out
    assert len(out.splitlines()) < 25, out  # the processes' lines went to their files
    logs = tmp_path / "instance" / "logs"
    for name in PROCESSES:
        assert (logs / f"{name}.log").stat().st_size > 0, name
    assert "POST /api/admin/connections" in (logs / "web.log").read_text()
    # the connection ran on demand until its first sync was seen, then got its schedule
    import sqlite3

    with sqlite3.connect(tmp_path / "instance" / "usersync.db") as db:
        assert db.execute("select schedule from connection").fetchall() == [("five_minutes",)]
        triggers = [t for (t,) in db.execute("select trigger from sync_run order by id")]
    assert triggers[:2] == ["manual", "manual"], triggers  # the preview, then the first sync

    # a second run reuses the state: the same generated IdP (with its changes), a new sandbox site
    state = tmp_path / "instance" / "sandbox-idp.json"
    before = state.read_text()
    code, out, _ = run_once(tmp_path / "instance")
    assert code == 0, out
    assert "installation(s) of earlier sandbox runs marked uninstalled" in out
    assert state.read_text() == before


@pytest.mark.skipif(not USERSYNC.exists(), reason="the usersync entry point is not installed")
def test_run_once_fails_when_a_process_cannot_start(tmp_path):
    """Something else holds the IdP's port: the run says which process stopped and exits 1."""
    env = dict(os.environ)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        idp = squatter.getsockname()[1]
        sandbox = idp - 2
        if not (_free(sandbox) and _free(sandbox + 1)):
            pytest.skip("the ports beside the squatter are taken")
        env = {k: v for k, v in env.items() if not k.startswith("USERSYNC_")
               and k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(USERSYNC_INSTANCE_PATH=str(tmp_path / "instance"), PYTHONPATH=str(ROOT))
        done = subprocess.run([str(USERSYNC), "run", "--once", "--port", str(free_ports(1)),
                               "--sandbox-port", str(sandbox), "--people", "10"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert re.search(r"idp stopped \(rc=[1-9]", out), out
    assert "Traceback" not in out
