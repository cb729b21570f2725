"""Site-admin OAuth 2.0 (3LO): consent, calls through the gateway, rotation, races, revocation."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from app.models.credential import CredentialKind, CredentialStatus
from app.models.installation import Installation
from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import (
    CAROL,
    ENGINEERING,
    OAUTH_APP,
    Store,
    consent,
    hosts_of,
    make_transport,
    settings_for,
)
from workers.atlassian import oauth
from workers.atlassian.credentials import OAuthTokens, load_credential, save_credential
from workers.atlassian.errors import AuthError
from workers.atlassian.factory import site_for_installation
from workers.atlassian.memberships import MembershipOp


def build(cloud: SiteHandle, store: Store, installation_id: int, **kwargs: Any):  # type: ignore[no-untyped-def]
    return site_for_installation(installation_id, db=store.db, settings=settings_for(cloud),
                                 encrypt=store.encrypt, decrypt=store.decrypt,
                                 transport=make_transport(**kwargs))


def tokens_for(cloud: SiteHandle, store: Store, installation_id: int) -> OAuthTokens:
    return OAuthTokens(store.db, installation_id, encrypt=store.encrypt, decrypt=store.decrypt,
                       refresher=lambda rt: oauth.refresh(OAUTH_APP, hosts_of(cloud), rt,
                                                          allow_private=True))


def test_consent_finds_the_cloud_and_writes_through_the_gateway(
        cloud: SiteHandle, store: Store, installation_id: int,
        oauth_connected: dict[str, Any]) -> None:
    assert oauth_connected["cloud_id"] == cloud.cloud_id
    assert "manage:jira-configuration" in oauth_connected["scopes"]
    site = build(cloud, store, installation_id)
    group = site.create_group("oauth-made")
    site.add_member(group.group_id, CAROL)
    assert CAROL in cloud.site.group(group.group_id).members
    writes = [r for r in cloud.requests.writes() if r.path != "/oauth/token"]
    assert {r.credential for r in writes} == {"oauth"}
    assert all(r.path.startswith(f"/ex/jira/{cloud.cloud_id}/rest/api/3/") for r in writes)
    stored = store.db.engine.connect().exec_driver_sql(  # type: ignore[union-attr]
        "SELECT material_encrypted FROM atlassian_credential").fetchall()
    assert stored and all(oauth_connected["refresh_token"] not in row[0] for row in stored)


def test_rotation_in_the_middle_of_a_sync(cloud: SiteHandle, store: Store, installation_id: int,
                                          oauth_connected: dict[str, Any]) -> None:
    cloud.oauth.expires_in, cloud.oauth.reuse_interval = 1, 0.0  # old refresh tokens die at once
    save_credential(store.db, installation_id, CredentialKind.OAUTH,
                    {**oauth_connected, "expires_at": 0}, store.encrypt)  # expired already
    users = [cloud.site.add_user(f"rot{i}@example.com").account_id for i in range(40)]
    cloud.set_latency(0.05)
    site = build(cloud, store, installation_id)
    results = site.apply_memberships([MembershipOp("add", ENGINEERING, u) for u in users])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    refreshes = [r for r in cloud.requests.matching("POST", "/oauth/token") if r.status == 200]
    assert len(refreshes) >= 2  # the token expired and rotated during the run
    stored = load_credential(store.db, installation_id, CredentialKind.OAUTH, store.decrypt)
    assert stored is not None and stored.status == CredentialStatus.ACTIVE
    assert stored.material["refresh_token"] != oauth_connected["refresh_token"]
    assert stored.version >= 1 + len(refreshes)
    # (the sandbox logs token calls with an empty body, so they are left out here)
    assert not [d for d in cloud.requests.duplicate_writes() if d[0][1] != "/oauth/token"]


@pytest.mark.parametrize("reuse_interval", [10.0, 0.0])
def test_two_workers_refreshing_at_once_keep_the_grant(
        cloud: SiteHandle, store: Store, installation_id: int,
        oauth_connected: dict[str, Any], reuse_interval: float) -> None:
    cloud.oauth.reuse_interval = reuse_interval
    save_credential(store.db, installation_id, CredentialKind.OAUTH,
                    {**oauth_connected, "expires_at": 0}, store.encrypt)
    workers = [tokens_for(cloud, store, installation_id) for _ in range(4)]
    barrier, got, errors = threading.Barrier(4), [], []

    def work(tokens: OAuthTokens) -> None:
        barrier.wait()
        try:
            got.append(tokens.access_token())
        except AuthError as exc:  # pragma: no cover - the failure this test guards against
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 4
    assert len(set(got)) == 1  # one worker refreshed under the lock, the others adopted it
    token_calls = [r for r in cloud.requests.matching("POST", "/oauth/token") if r.status == 200]
    assert len(token_calls) == 2  # the code exchange and a single refresh
    stored = load_credential(store.db, installation_id, CredentialKind.OAUTH, store.decrypt)
    assert stored is not None and stored.status == CredentialStatus.ACTIVE
    # the stored refresh token is alive: one more rotation works
    assert oauth.refresh(OAUTH_APP, hosts_of(cloud), stored.material["refresh_token"],
                         allow_private=True)["access_token"]


def test_revoked_grant_stops_the_run_and_records_every_op(
        cloud: SiteHandle, store: Store, installation_id: int,
        oauth_connected: dict[str, Any]) -> None:
    site = build(cloud, store, installation_id)
    site.add_member(ENGINEERING, CAROL)  # works before the revocation
    cloud.oauth.revoke(client_id=OAUTH_APP.client_id)
    users = [cloud.site.add_user(f"rev{i}@example.com").account_id for i in range(20)]
    ops = [MembershipOp("add", ENGINEERING, u) for u in users]
    results = site.apply_memberships(ops)
    assert [r.op for r in results] == ops
    assert not any(r.ok for r in results)
    assert all(isinstance(r.error, AuthError) for r in results)
    assert "reconnect" in str(results[0].error)
    assert {u for u in users} & set(cloud.site.group(ENGINEERING).members) == set()
    stored = load_credential(store.db, installation_id, CredentialKind.OAUTH, store.decrypt)
    assert stored is not None and stored.status == CredentialStatus.REVOKED
    assert "refresh" in (stored.last_error or "")
    # a fresh client no longer offers the dead grant: writes say what to connect
    assert build(cloud, store, installation_id).write is None


def test_confluence_installation_writes_through_its_gateway(
        cloud: SiteHandle, store: Store, installation_id: int) -> None:
    with store.db.session() as session:
        row = session.get(Installation, installation_id)
        row.product_type, row.base_url = "confluence", cloud.base_url + "/wiki"
        row.confirmed_base_url = row.base_url
    material = oauth.finish_authorization(OAUTH_APP, hosts_of(cloud), make_transport(),
                                          consent(cloud, "confluence"), cloud.base_url + "/wiki")
    assert "write:confluence-groups" in material["scopes"]
    save_credential(store.db, installation_id, CredentialKind.OAUTH, material, store.encrypt)
    site = build(cloud, store, installation_id)
    group = site.create_group("wiki-team")
    site.add_member(group.group_id, CAROL)
    assert [m.account_id for m in site.group_members(group.group_id)] == [CAROL]
    writes = [r for r in cloud.requests.writes() if r.path != "/oauth/token"]
    assert writes and all(r.path.startswith(f"/ex/confluence/{cloud.cloud_id}/wiki/rest/api/")
                          for r in writes)
    assert {r.credential for r in cloud.requests.all() if r.method == "GET"
            and r.path.startswith("/wiki/")} == {"jwt"}  # reads stay with the app's JWT


def test_api_token_and_org_key_from_the_database(cloud: SiteHandle, store: Store,
                                                 installation_id: int) -> None:
    save_credential(store.db, installation_id, CredentialKind.API_TOKEN,
                    {"email": cloud.admin_email, "api_token": cloud.admin_api_token},
                    store.encrypt)
    save_credential(store.db, installation_id, CredentialKind.ORG_API_KEY,
                    {"org_id": cloud.org_id, "api_key": cloud.org_api_key}, store.encrypt)
    site = build(cloud, store, installation_id)
    site.add_member(ENGINEERING, CAROL)
    site.suspend_access(CAROL)
    assert cloud.site.user(CAROL).suspended and CAROL in cloud.site.group(ENGINEERING).members
    assert {(r.credential, r.path.split("/")[1]) for r in cloud.requests.writes()} == {
        ("basic", "rest"), ("org-key", "admin")}


def test_an_idle_grant_expires_after_90_days_and_asks_to_reconnect(
        cloud: SiteHandle, store: Store, installation_id: int,
        oauth_connected: dict[str, Any]) -> None:
    cloud.clock.advance(91 * 86400)  # the access token and the idle refresh token are dead
    site = build(cloud, store, installation_id)
    with pytest.raises(AuthError) as err:
        site.add_member(ENGINEERING, CAROL)
    assert "reconnect" in str(err.value)
    stored = load_credential(store.db, installation_id, CredentialKind.OAUTH, store.decrypt)
    assert stored is not None and stored.status == CredentialStatus.REVOKED


def test_an_expired_api_token_is_marked_for_reconnection(
        cloud: SiteHandle, store: Store, installation_id: int) -> None:
    save_credential(store.db, installation_id, CredentialKind.API_TOKEN,
                    {"email": cloud.admin_email, "api_token": cloud.admin_api_token},
                    store.encrypt)
    site = build(cloud, store, installation_id)
    site.add_member(ENGINEERING, CAROL)
    cloud.site.user(cloud.admin_account_id).api_token_expires_at = cloud.clock.now() - 1
    with pytest.raises(AuthError) as err:
        site.remove_member(ENGINEERING, CAROL)
    assert "create a new one" in str(err.value)
    stored = load_credential(store.db, installation_id, CredentialKind.API_TOKEN, store.decrypt)
    assert stored is not None and stored.status == CredentialStatus.REVOKED
    assert "expired" in (stored.last_error or "")
    assert build(cloud, store, installation_id).write is None  # nobody sends it again


def test_a_replaced_api_token_is_picked_up_by_a_running_sync(
        cloud: SiteHandle, store: Store, installation_id: int) -> None:
    save_credential(store.db, installation_id, CredentialKind.API_TOKEN,
                    {"email": cloud.admin_email, "api_token": cloud.admin_api_token},
                    store.encrypt)
    site = build(cloud, store, installation_id)
    admin = cloud.site.user(cloud.admin_account_id)
    admin.api_token = "the-new-token"  # the admin rotated it and pasted the new one
    save_credential(store.db, installation_id, CredentialKind.API_TOKEN,
                    {"email": cloud.admin_email, "api_token": "the-new-token"}, store.encrypt)
    site.add_member(ENGINEERING, CAROL)
    assert CAROL in cloud.site.group(ENGINEERING).members
