"""The Forge lifecycle over HTTP: install, upgrade, preUninstall, reinstall, and Connect sites
adopted by the Forge app with their connections, links and history."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import requests
from sqlalchemy import func, select

from app import extensions
from app.forge import installations
from app.forge.fit import Invocation
from app.models import Connection, InstallationKind, InstallationState, Link, SyncRun
from tests.connect.tokens import request_token
from tests.forge.helpers import connection, fresh_queue, installation, queued_syncs


def test_install_records_a_forge_installation_with_its_system_token(forge_stack, caplog):
    caplog.set_level(logging.DEBUG)
    inst = forge_stack.install()
    row = installation(forge_installation_id=inst.installation_id)
    assert row is not None and row.kind == InstallationKind.FORGE
    assert row.state == InstallationState.ENABLED and row.shared_secret_encrypted is None
    assert row.client_key == inst.installation_id and row.product_type == "jira"
    assert row.cloud_id == forge_stack.cloud.cloud_id and row.api_base_url == inst.api_base_url
    assert row.system_token_expires_at is not None
    token = extensions.secrets.decrypt(row.system_token_encrypted)
    assert token.count(".") == 2 and token not in row.system_token_encrypted
    assert [d.status for d in forge_stack.forge.invoker.deliveries if d.kind == "event"] == [204]
    assert not [r for r in caplog.records if token in r.getMessage()], "the system token was logged"


def test_upgrade_keeps_the_installation(forge_stack):
    inst = forge_stack.install()
    before = installation(forge_installation_id=inst.installation_id)
    assert forge_stack.forge.invoker.upgrade(inst) == [204]
    assert installation(forge_installation_id=inst.installation_id).id == before.id


def test_pre_uninstall_stops_schedules_and_a_late_trigger_revives_nothing(forge_stack, tmp_path,
                                                                         test_config):
    inst = forge_stack.install()
    cid = connection(inst.installation_id, str(tmp_path / "d.json"))
    queue = fresh_queue(test_config)
    assert forge_stack.forge.invoker.uninstall(inst, forge_stack.cloud.admin_auth) == [204]
    row = installation(forge_installation_id=inst.installation_id)
    assert row.state == InstallationState.UNINSTALLED and row.uninstalled_at is not None
    assert row.system_token_encrypted is None
    forge_stack.forge.invoker.installations[inst.installation_id] = inst  # a late delivery
    assert forge_stack.forge.invoker.scheduled(inst) == [204]
    assert installation(id=row.id).state == InstallationState.UNINSTALLED
    assert queued_syncs(queue) == []
    with extensions.db.session() as session:
        assert session.get(Connection, cid) is not None  # kept, as for a Connect uninstall


def test_reinstall_on_the_same_site_comes_back_with_its_connections(forge_stack, tmp_path):
    first = forge_stack.install()
    cid = connection(first.installation_id, str(tmp_path / "d.json"))
    forge_stack.forge.invoker.uninstall(first, forge_stack.cloud.admin_auth)
    second = forge_stack.install()
    assert second.installation_id != first.installation_id
    row = installation(forge_installation_id=second.installation_id)
    assert row.state == InstallationState.ENABLED
    with extensions.db.session() as session:
        assert session.get(Connection, cid).installation_id == row.id


def test_unknown_lifecycle_event_is_a_clear_400(forge_stack):
    inst = forge_stack.install()
    invoker = forge_stack.forge.invoker
    headers = invoker._headers(inst, invoker.manifest.endpoint("usersync-lifecycle"),
                               invoker._fit(inst, "core:trigger", "usersync-lifecycle-events"))
    answer = requests.post(forge_stack.app_url + "/forge/lifecycle", headers=headers,
                           json={"eventType": "avi:jira:created:issue"}, timeout=10)
    assert answer.status_code == 400 and "eventType" in answer.json()["error"]["message"]


def _connect_site_with_history(forge_stack, tmp_path):  # type: ignore[no-untyped-def]
    """A site on our Connect app with a connection, a link and a finished run."""
    installed = forge_stack.cloud.install_app(forge_stack.app_url + "/atlassian-connect.json")
    cid = connection(installed.client_key, str(tmp_path / "d.json"))
    with extensions.db.session() as session:
        session.add(Link(connection_id=cid, kind="user", idp_id="u1", atlassian_id="acc-1"))
        session.add(SyncRun(connection_id=cid, trigger="schedule", status="succeeded",
                            counts={"desired_users": 1}, finished_at=datetime.now(UTC)))
    return installed, cid


def _kept(cid: int, installation_id: int) -> None:
    with extensions.db.session() as session:
        assert session.get(Connection, cid).installation_id == installation_id
        assert session.scalar(select(func.count()).select_from(Link)
                              .where(Link.connection_id == cid)) == 1
        assert session.scalar(select(func.count()).select_from(SyncRun)
                              .where(SyncRun.connection_id == cid)) == 1


def test_connect_site_is_adopted_by_the_fit_client_key(forge_stack, tmp_path):
    installed, cid = _connect_site_with_history(forge_stack, tmp_path)
    connect_row = installation(client_key=installed.client_key)
    with extensions.db.session() as session:  # only the clientKey claim can match it
        session.get(type(connect_row), connect_row.id).cloud_id = None
    inst = forge_stack.install(connect_client_key=installed.client_key)
    row = installation(forge_installation_id=inst.installation_id)
    assert row.id == connect_row.id and row.kind == InstallationKind.FORGE
    assert row.client_key == installed.client_key and row.adopted_at is not None
    assert row.shared_secret_encrypted == connect_row.shared_secret_encrypted
    _kept(cid, row.id)


def test_connect_site_is_adopted_by_cloud_id_without_a_client_key_claim(forge_stack, tmp_path):
    installed, cid = _connect_site_with_history(forge_stack, tmp_path)
    connect_row = installation(client_key=installed.client_key)
    assert connect_row.cloud_id == forge_stack.cloud.cloud_id  # from the Connect install payload
    inst = forge_stack.install()
    row = installation(forge_installation_id=inst.installation_id)
    assert row.id == connect_row.id and row.adopted_at is not None
    _kept(cid, row.id)
    # Connect requests of the adopted site still verify (Connect lasts until its end of support)
    url = forge_stack.app_url + "/connect/whoami"
    token = request_token(installed.client_key, installed.shared_secret, "GET", url,
                          qsh_value="context-qsh")
    answer = requests.get(url, headers={"Authorization": f"JWT {token}"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["clientKey"] == installed.client_key


def _invocation(**fields) -> Invocation:  # type: ignore[no-untyped-def]
    base = dict(app_id="ari:cloud:ecosystem::app/x", installation_id="ari:inst/1",
                api_base_url="https://api.atlassian.com/ex/jira/c1", cloud_id=None,
                product="jira", environment="PRODUCTION", module_type="jira:adminPage",
                module_key="p", site_url=None, principal="acc", connect_client_key=None,
                jti="j", expires_at=0)
    return Invocation(**{**base, **fields})


def test_site_url_matches_when_nothing_else_does(forge_stack, tmp_path):
    installed, cid = _connect_site_with_history(forge_stack, tmp_path)
    connect_row = installation(client_key=installed.client_key)
    with extensions.db.session() as session:
        session.get(type(connect_row), connect_row.id).cloud_id = None
    with extensions.db.session() as session:
        row = installations.record(session, _invocation(site_url=forge_stack.cloud.base_url + "/"),
                                   token=None, encrypt=extensions.secrets.encrypt)
        assert row.id == connect_row.id
        other = installations.record(session, _invocation(installation_id="ari:inst/2",
                                                          site_url="https://elsewhere.test"),
                                     token=None, encrypt=extensions.secrets.encrypt)
        assert other.id != connect_row.id
    _kept(cid, connect_row.id)


def test_connect_tokens_naming_a_forge_only_installation_are_refused(forge_stack):
    inst = forge_stack.install()
    for path in ("/enabled", "/connect/whoami"):
        url = forge_stack.app_url + path
        token = request_token(inst.installation_id, "any-secret-at-all-32-bytes-long!", "POST"
                              if path == "/enabled" else "GET", url, qsh_value=None)
        answer = requests.request("POST" if path == "/enabled" else "GET", url, timeout=10,
                                  headers={"Authorization": f"JWT {token}",
                                           "Content-Type": "application/json"},
                                  json={"clientKey": inst.installation_id, "eventType": "enabled"})
        assert answer.status_code == 401, (path, answer.status_code, answer.text)


def test_the_connect_page_of_a_site_forge_adopted_still_knows_its_admins(forge_stack, tmp_path):
    """After adoption the sync reads with Forge's app token, which may not read other accounts'
    permissions; the Connect page's caller is checked with the Connect JWT instead."""
    import time

    import jwt

    from app.admin.caller import admin_cache

    installed, _cid = _connect_site_with_history(forge_stack, tmp_path)
    forge_stack.install(connect_client_key=installed.client_key)
    admin_cache.clear()
    now = int(time.time())
    token = jwt.encode({"iss": installed.client_key, "iat": now, "exp": now + 300,
                        "qsh": "context-qsh", "sub": forge_stack.cloud.admin_account_id},
                       installed.shared_secret, algorithm="HS256")
    me = requests.get(forge_stack.app_url + "/api/admin/me",
                      headers={"Authorization": f"JWT {token}"}, timeout=10)
    assert me.status_code == 200, me.text
