"""End to end with a real `rq worker`: the sandbox Forge invoker installs the app, the admin
page (invokeRemote with a FIT) configures a connection through the admin API, the scheduled
trigger fires, and the sync lands in the sandbox site. A Connect site adopted by Forge keeps
its connections and goes on syncing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

from app import extensions
from app.models import Connection
from app.models.credential import CredentialKind
from tests.conftest import TEST_KEYS
from tests.engine.harness import directory
from tests.engine.test_worker_e2e import runs, wait_for
from tests.forge.helpers import connection, installation
from workers.atlassian.credentials import save_credential
from workers.queue import QUEUES

RQ = Path(sys.executable).parent / "rq"
ROOT = Path(__file__).resolve().parents[2]
LENIENT = {"max_removal_percent": 100, "max_users_affected": 100000}


@pytest.fixture()
def worker(forge_stack, test_config):  # type: ignore[no-untyped-def]
    redis = Redis.from_url(test_config["REDIS_URL"])
    redis.flushdb()
    base = forge_stack.cloud.base_url
    env = dict(os.environ, DATABASE_URL=extensions.db.url, USERSYNC_SECRET_KEYS=",".join(TEST_KEYS),
               REDIS_URL=test_config["REDIS_URL"], USERSYNC_ALLOW_PRIVATE_URLS="true",
               USERSYNC_ATLASSIAN_API_URL=base, USERSYNC_ATLASSIAN_AUTH_URL=base,
               USERSYNC_LOG_FORMAT="text")
    proc = subprocess.Popen([str(RQ), "worker", "--url", test_config["REDIS_URL"], *QUEUES],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _people(forge_stack, tmp_path: Path, n: int = 6) -> Path:
    users = [(f"u{i}", f"person{i}@example.com", True) for i in range(n)]
    for _, email, _ in users:
        forge_stack.cloud.site.add_user(email)
    path = tmp_path / "people.json"
    path.write_text(json.dumps(directory(users, {"engineering": [u[0] for u in users[:4]],
                                                 "support": [u[0] for u in users[4:]]})))
    return path


def _api(forge_stack, inst, method: str, path: str, body=None, account_id=None):  # type: ignore[no-untyped-def]
    answer = forge_stack.forge.invoker.invoke_remote(inst, "/api/admin" + path, method, body,
                                                     account_id=account_id)
    return answer.status_code, (answer.json() if answer.content else None)


def _members(forge_stack, name: str) -> set[str]:
    site = forge_stack.cloud.site
    return {u.email for u in site.members(site.group_by_name(name).group_id)}


def test_forge_install_configure_through_the_admin_api_and_the_trigger_syncs(
        forge_stack, worker, tmp_path):
    inst = forge_stack.install()
    people = _people(forge_stack, tmp_path)

    status, me = _api(forge_stack, inst, "GET", "/me")
    assert status == 200, me
    assert me["via"] == "forge" and me["account_id"] == forge_stack.cloud.admin_account_id
    assert me["site_url"] == forge_stack.cloud.base_url  # learnt from the FIT's context

    outsider = forge_stack.cloud.site.add_user("outsider@example.com").account_id
    status, refused = _api(forge_stack, inst, "GET", "/connections", account_id=outsider)
    assert status == 403 and refused["error"]["code"] == "forbidden"

    cloud = forge_stack.cloud
    status, credential = _api(forge_stack, inst, "PUT", "/credential/api-token",
                              {"email": cloud.admin_email, "api_token": cloud.admin_api_token})
    assert status == 200, credential
    status, conn = _api(forge_stack, inst, "POST", "/connections",
                        {"kind": "directory_file", "name": "People", "enabled": True,
                         "schedule": "five_minutes", "settings": {"path": str(people)}})
    assert status == 201, conn
    status, policy = _api(forge_stack, inst, "GET", f"/connections/{conn['id']}/policy")
    assert status == 200, policy
    policy["guard"].update(max_removal_percent=100, max_users_affected=100000)
    assert _api(forge_stack, inst, "PUT", f"/connections/{conn['id']}/policy", policy)[0] == 200

    assert forge_stack.forge.invoker.scheduled(inst, times=2) == [204, 204]  # Forge may repeat
    finished = wait_for(lambda: [r for r in runs(conn["id"]) if r.finished_at], timeout=120)
    assert [r.status for r in finished] == ["succeeded"], finished[0].error
    assert [r.trigger for r in runs(conn["id"])] == ["schedule"]
    assert _members(forge_stack, "engineering") == {f"person{i}@example.com" for i in range(4)}
    assert _members(forge_stack, "support") == {"person4@example.com", "person5@example.com"}
    # reads went with the Forge app's token, writes with the admin's API token
    assert {r.credential for r in cloud.requests.matching("GET", "/group/bulk")} == {"forge"}
    assert {r.credential for r in cloud.requests.matching("POST", "/group/user")} == {"basic"}


def test_connect_site_adopted_by_forge_keeps_its_connections_and_syncs(forge_stack, worker,
                                                                         tmp_path):
    cloud = forge_stack.cloud
    installed = cloud.install_app(forge_stack.app_url + "/atlassian-connect.json")
    people = _people(forge_stack, tmp_path)
    cid = connection(installed.client_key, str(people))
    with extensions.db.session() as session:
        session.get(Connection, cid).policy = {"guard": LENIENT}
    save_credential(extensions.db, installation(client_key=installed.client_key).id,
                    CredentialKind.API_TOKEN,
                    {"email": cloud.admin_email, "api_token": cloud.admin_api_token},
                    extensions.secrets.encrypt)

    inst = forge_stack.install(connect_client_key=installed.client_key)
    adopted = installation(client_key=installed.client_key)
    assert adopted.forge_installation_id == inst.installation_id and adopted.adopted_at

    status, listed = _api(forge_stack, inst, "GET", "/connections")
    assert status == 200, listed
    assert [c["id"] for c in listed["items"]] == [cid]
    assert forge_stack.forge.invoker.scheduled(inst) == [204]
    finished = wait_for(lambda: [r for r in runs(cid) if r.finished_at], timeout=120)
    assert [r.status for r in finished] == ["succeeded"], finished[0].error
    assert _members(forge_stack, "engineering") == {f"person{i}@example.com" for i in range(4)}
