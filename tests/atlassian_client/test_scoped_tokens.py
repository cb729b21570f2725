"""Scoped API tokens: sent through api.atlassian.com/ex/..., detected from the site's refusal, and
ending in the reconnect state when they expire."""

from __future__ import annotations

from typing import Any

import pytest

from app.models.credential import CredentialKind, CredentialStatus
from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import CAROL, ENGINEERING, Store, make_transport, settings_for
from workers.atlassian.credentials import load_credential, save_credential
from workers.atlassian.errors import AuthError
from workers.atlassian.factory import site_for_installation

JIRA_SCOPES = frozenset({"read:jira-user", "manage:jira-configuration"})


def build(cloud: SiteHandle, store: Store, installation_id: int):  # type: ignore[no-untyped-def]
    return site_for_installation(installation_id, db=store.db, settings=settings_for(cloud),
                                 encrypt=store.encrypt, decrypt=store.decrypt,
                                 transport=make_transport())


def store_token(cloud: SiteHandle, store: Store, installation_id: int, **extra: Any) -> None:
    save_credential(store.db, installation_id, CredentialKind.API_TOKEN,
                    {"email": cloud.admin_email, "api_token": cloud.admin_api_token, **extra},
                    store.encrypt)


def stored(store: Store, installation_id: int):  # type: ignore[no-untyped-def]
    found = load_credential(store.db, installation_id, CredentialKind.API_TOKEN, store.decrypt)
    assert found is not None
    return found


def test_a_token_the_admin_marks_scoped_goes_through_the_gateway(
        cloud: SiteHandle, store: Store, installation_id: int) -> None:
    cloud.site.user(cloud.admin_account_id).api_token_scopes = JIRA_SCOPES
    store_token(cloud, store, installation_id, scoped=True)
    site = build(cloud, store, installation_id)
    assert site.write is not None and site.write.label == "site-admin scoped API token"
    site.add_member(ENGINEERING, CAROL)
    assert CAROL in cloud.site.group(ENGINEERING).members
    added = cloud.requests.matching("POST", "/rest/api/3/group/user")
    assert [r.path for r in added] == [f"/ex/jira/{cloud.cloud_id}/rest/api/3/group/user"]
    assert added[0].credential == "basic"
    build(cloud, store, installation_id).remove_member(ENGINEERING, CAROL)
    assert len(cloud.requests.matching("GET", "/_edge/tenant_info")) == 1  # fetched once


def test_a_scoped_token_stored_as_classic_is_detected_from_the_refusal(
        cloud: SiteHandle, store: Store, installation_id: int) -> None:
    cloud.site.user(cloud.admin_account_id).api_token_scopes = JIRA_SCOPES
    store_token(cloud, store, installation_id)
    with pytest.raises(AuthError) as err:
        build(cloud, store, installation_id).add_member(ENGINEERING, CAROL)
    assert "recorded as a scoped token" in str(err.value)
    record = stored(store, installation_id)
    assert record.status == CredentialStatus.ACTIVE  # not marked dead: it works elsewhere
    assert record.material["scoped"] is True and record.material["cloud_id"] == cloud.cloud_id
    build(cloud, store, installation_id).add_member(ENGINEERING, CAROL)
    assert CAROL in cloud.site.group(ENGINEERING).members


def test_an_expired_scoped_token_asks_to_reconnect(
        cloud: SiteHandle, store: Store, installation_id: int) -> None:
    admin = cloud.site.user(cloud.admin_account_id)
    admin.api_token_scopes = JIRA_SCOPES
    store_token(cloud, store, installation_id, scoped=True)
    site = build(cloud, store, installation_id)
    site.add_member(ENGINEERING, CAROL)
    admin.api_token_expires_at = cloud.clock.now() - 1
    with pytest.raises(AuthError) as err:
        site.remove_member(ENGINEERING, CAROL)
    assert "create a new one" in str(err.value)
    record = stored(store, installation_id)
    assert record.status == CredentialStatus.REVOKED and "expired" in (record.last_error or "")
    assert build(cloud, store, installation_id).write is None


def test_a_dead_classic_token_is_still_marked_for_reconnection_after_the_gateway_probe(
        cloud: SiteHandle, store: Store, installation_id: int) -> None:
    store_token(cloud, store, installation_id)
    cloud.site.user(cloud.admin_account_id).api_token = "revoked-meanwhile"
    with pytest.raises(AuthError) as err:
        build(cloud, store, installation_id).add_member(ENGINEERING, CAROL)
    assert "create a new one" in str(err.value)
    assert stored(store, installation_id).status == CredentialStatus.REVOKED
