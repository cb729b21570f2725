"""Signed install: every check of the reference page, and each attack that must fail."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app import extensions
from app.models import Installation, InstallationState
from tests.conftest import TEST_BASE_URL
from tests.connect.lifecycle import app_for
from tests.connect.tokens import (
    INSTALL_KID,
    OTHER_PRIVATE,
    install_payload,
    install_token,
    request_token,
)


@pytest.fixture()
def app(test_config, keys):  # type: ignore[no-untyped-def]
    return app_for(test_config, keys)

def post(client, event: str, payload: dict | str, token: str | None):
    headers = {"Authorization": f"JWT {token}"} if token else {}
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.post(f"/{event}", data=body, headers=headers, content_type="application/json")


def stored(client_key: str = "client-a") -> Installation | None:
    with extensions.db.session() as s:
        return s.scalars(select(Installation).where(Installation.client_key == client_key)).first()


def test_valid_install_stores_encrypted_secret(client):
    payload = install_payload(secret="s3cret-value")
    r = post(client, "installed", payload, install_token("client-a", TEST_BASE_URL))
    assert r.status_code == 204, r.json
    inst = stored()
    assert inst.state == InstallationState.ENABLED and inst.product_type == "jira"
    assert "s3cret-value" not in inst.shared_secret_encrypted
    assert extensions.secrets.decrypt(inst.shared_secret_encrypted) == "s3cret-value"


def test_aud_with_trailing_slash_is_accepted(client):
    r = post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL + "/"))
    assert r.status_code == 204


@pytest.mark.parametrize("make_token, message", [
    (lambda: None, "missing JWT"),
    (lambda: install_token("client-a", TEST_BASE_URL, key="shared-secret", alg="HS256"), "RS256"),
    (lambda: install_token("client-a", TEST_BASE_URL, key=OTHER_PRIVATE), "invalid"),
    (lambda: install_token("client-a", TEST_BASE_URL, kid="no-such-kid"), "unknown signing key"),
    (lambda: install_token("client-a", TEST_BASE_URL, kid="../../etc/passwd"), "unknown signing key"),
    (lambda: install_token("client-a", "https://evil.example"), "audience"),
    (lambda: install_token("client-a", TEST_BASE_URL, path="/uninstalled"), "query string hash"),
    (lambda: install_token("client-a", TEST_BASE_URL, exp_in=-600), "expired"),
    (lambda: install_token("client-b", TEST_BASE_URL), "issuer"),
    (lambda: "not-a-jwt", "malformed"),
])
def test_bad_installs_are_refused_and_store_nothing(client, make_token, message):
    r = post(client, "installed", install_payload(), make_token())
    assert r.status_code == 401
    assert message in r.json["error"]
    assert "secret" not in r.json["error"].lower().replace("shared-secret", "")
    assert stored() is None


def test_body_not_json(client):
    r = post(client, "installed", "{not json", install_token("client-a", TEST_BASE_URL))
    assert r.status_code == 400 and "not JSON" in r.json["error"]
    assert stored() is None


def test_payload_missing_secret_is_a_clear_400(client):
    payload = install_payload()
    del payload["sharedSecret"]
    r = post(client, "installed", payload, install_token("client-a", TEST_BASE_URL))
    assert r.status_code == 400 and "sharedSecret" in r.json["error"]


def test_key_server_unreachable_is_503_and_stores_nothing(test_config):
    from app import create_app

    test_config["INSTALL_KEYS_URL"] = "http://127.0.0.1:9/unreachable/"
    client = create_app(test_config).test_client()
    r = post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL))
    assert r.status_code == 503 and "unreachable" in r.json["error"]
    assert stored() is None


def test_reinstall_with_wrong_key_keeps_the_stored_secret(client):
    post(client, "installed", install_payload(secret="first"), install_token("client-a", TEST_BASE_URL))
    r = post(client, "installed", install_payload(secret="hijack"),
             install_token("client-a", TEST_BASE_URL, key=OTHER_PRIVATE))
    assert r.status_code == 401
    assert extensions.secrets.decrypt(stored().shared_secret_encrypted) == "first"


def test_reinstall_signed_with_shared_secret_is_refused(client):
    post(client, "installed", install_payload(secret="first"), install_token("client-a", TEST_BASE_URL))
    r = post(client, "installed", install_payload(secret="hijack"),
             install_token("client-a", TEST_BASE_URL, key="first", alg="HS256"))
    assert r.status_code == 401
    assert extensions.secrets.decrypt(stored().shared_secret_encrypted) == "first"


def test_verified_reinstall_overwrites_secret(client):
    post(client, "installed", install_payload(secret="first"), install_token("client-a", TEST_BASE_URL))
    r = post(client, "installed", install_payload(secret="second"), install_token("client-a", TEST_BASE_URL))
    assert r.status_code == 204
    assert extensions.secrets.decrypt(stored().shared_secret_encrypted) == "second"


def test_key_is_fetched_once_per_kid(client, keys):
    for _ in range(3):
        post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL))
    assert keys.calls == [INSTALL_KID]


def lifecycle(client, event: str):
    """Each event signed as Atlassian signs it: enabled/disabled HS256 with the stored secret."""
    inst = stored()
    secret = extensions.secrets.decrypt(inst.shared_secret_encrypted) if inst else "x" * 40
    if event in ("enabled", "disabled"):
        token = request_token("client-a", secret, "POST", f"/{event}", sub=None)
    else:
        token = install_token("client-a", TEST_BASE_URL, path=f"/{event}")
    return post(client, event, dict(install_payload(secret=secret), eventType=event), token)


@pytest.mark.parametrize("events, final", [
    (["disabled"], InstallationState.DISABLED),
    (["disabled", "enabled"], InstallationState.ENABLED),
    (["disabled", "uninstalled"], InstallationState.UNINSTALLED),
    (["uninstalled", "disabled"], InstallationState.UNINSTALLED),
    (["uninstalled", "uninstalled"], InstallationState.UNINSTALLED),
    (["disabled", "disabled"], InstallationState.DISABLED),
    (["uninstalled", "enabled"], InstallationState.UNINSTALLED),
])
def test_lifecycle_orderings_end_consistent(client, events, final):
    post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL))
    for event in events:
        assert lifecycle(client, event).status_code == 204
    assert stored().state == final


def test_reinstall_after_uninstall_revives(client):
    post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL))
    lifecycle(client, "uninstalled")
    post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL))
    inst = stored()
    assert inst.state == InstallationState.ENABLED and inst.uninstalled_at is None


def test_lifecycle_for_unknown_tenant_is_harmless(client):
    assert lifecycle(client, "uninstalled").status_code == 204
    assert stored() is None


def test_unsigned_uninstall_is_refused(client):
    post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL))
    r = post(client, "uninstalled", install_payload(), None)
    assert r.status_code == 401
    assert stored().state == InstallationState.ENABLED
