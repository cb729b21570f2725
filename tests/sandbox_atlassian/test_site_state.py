"""The site state on its own: seeding, generation, invariants and thread safety."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from sandbox.atlassian.site import Invalid, NotFound, Site
from sandbox.atlassian.testing import build_site

from .conftest import ALICE, SEED


def test_generator_is_reproducible_and_sized():
    a, b = Site(seed=3), Site(seed=3)
    a.generate(200, 20, 1000, seed=9)
    b.generate(200, 20, 1000, seed=9)
    assert a.counts() == {"users": 200, "groups": 24, "memberships": 1000}
    assert [(g.group_id, list(g.members)) for g in a.sorted_groups()] == \
        [(g.group_id, list(g.members)) for g in b.sorted_groups()]
    assert a.cloud_id == b.cloud_id and a.org_id == b.org_id


def test_seed_file_and_errors(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED))
    site = build_site(str(path))
    assert site.group_by_name("ENGINEERING").members.keys() >= {ALICE}
    with pytest.raises(Invalid):
        site.add_user("alice@example.com")
    with pytest.raises(Invalid):
        site.add_user("zed@example.com", account_type="robot")
    with pytest.raises(NotFound):
        site.user("missing")
    with pytest.raises(Invalid):
        site.add_group("")
    with pytest.raises(Invalid, match="needs an emailAddress"):
        site.load({"users": [{"displayName": "No Mail"}]})
    with pytest.raises(Invalid, match="needs a name"):
        site.load({"groups": [{"groupId": "x"}]})


def test_concurrent_membership_writes_lose_nothing():
    site = Site()
    site.generate(400, 1, 0)
    group = site.group_by_name("group-00000")
    ids = [u.account_id for u in site.users.values()]

    def add(chunk: list[str]) -> None:
        for account_id in chunk:
            site.add_member(group.group_id, account_id)

    threads = [threading.Thread(target=add, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(site.members(group.group_id)) == 400


def test_command_line_serves_and_prints_credentials():
    with socket.socket() as probe:  # a port that is free right now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.atlassian", "--port", str(port), "--users", "10",
         "--groups", "3", "--memberships", "12", "--admin-token", "cli-token"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        assert "cli-token" in proc.stdout.readline()
        response = None
        for _ in range(50):
            try:
                response = requests.get(f"http://127.0.0.1:{port}/rest/api/3/group/bulk",
                                        auth=("admin@example.com", "cli-token"), timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert response is not None and response.json()["total"] == 7
    finally:
        proc.terminate()
        proc.wait(timeout=10)
