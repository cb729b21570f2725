"""Each lifecycle event signed as Atlassian signs it: installed/uninstalled RS256 with the install
key, enabled/disabled HS256 with the shared secret; the app verifies each that way, and a
disabled site runs nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jwt
import pytest
import requests
from atlassian_jwt.url_utils import hash_url
from flask import Flask, request
from sqlalchemy import select

from app import extensions
from app.models import Connection, Installation, InstallationState
from sandbox.atlassian.testing import running_site
from sandbox.live import LiveServer
from tests.conftest import TEST_BASE_URL
from tests.connect.tokens import (
    install_payload,
    install_token,
    request_token,
)
from tests.engine.harness import directory, stack


def recorder() -> tuple[Flask, list[dict]]:
    """A minimal Connect app that records each lifecycle call's token header, claims and body."""
    app, calls = Flask("lifecycle-recorder"), []

    @app.get("/atlassian-connect.json")
    def descriptor():  # type: ignore[no-untyped-def]
        base = request.host_url.rstrip("/")
        return {"key": "com.example.recorder", "name": "Recorder", "baseUrl": base,
                "authentication": {"type": "jwt"}, "scopes": ["READ"],
                "apiMigrations": {"signed-install": True, "context-qsh": True},
                "lifecycle": {e: f"/{e}" for e in ("installed", "enabled", "disabled", "uninstalled")}}

    @app.post("/<event>")
    def lifecycle(event: str):  # type: ignore[no-untyped-def]
        token = request.headers["Authorization"].removeprefix("JWT ")
        calls.append({"event": event, "header": jwt.get_unverified_header(token), "token": token,
                      "body": json.loads(request.get_data())})
        return "", 204

    return app, calls


def test_sandbox_signs_enabled_and_disabled_with_the_shared_secret():
    app, calls = recorder()
    with running_site() as cloud, LiveServer(app) as server:
        installation = cloud.install_app(server.url + "/atlassian-connect.json")
        cloud.disable_app("com.example.recorder")
        cloud.enable_app("com.example.recorder")
        cloud.uninstall_app("com.example.recorder")
        key_url = cloud.base_url + "/connect-install-keys/"
        by_event: dict[str, list[dict]] = {}
        for call in calls:
            by_event.setdefault(call["event"], []).append(call)
        assert [c["event"] for c in calls] == ["installed", "enabled", "disabled", "enabled", "uninstalled"]
        for call in by_event["installed"] + by_event["uninstalled"]:
            assert call["header"]["alg"] == "RS256"
            pem = requests.get(key_url + call["header"]["kid"], timeout=5).text
            claims = jwt.decode(call["token"], pem, algorithms=["RS256"], audience=server.url)
            assert claims["iss"] == installation.client_key
        for call in by_event["enabled"] + by_event["disabled"]:
            assert call["header"]["alg"] == "HS256" and "kid" not in call["header"]
            claims = jwt.decode(call["token"], installation.shared_secret, algorithms=["HS256"])
            assert claims["iss"] == call["body"]["clientKey"] == installation.client_key
            assert claims["qsh"] == hash_url("POST", f"/{call['event']}")
            assert claims["exp"] - claims["iat"] <= 900


@pytest.fixture()
def client(test_config, keys):
    from app import create_app

    test_config["INSTALL_KEYS_URL"] = keys.url + "/"
    return create_app(test_config).test_client()


def post(client, event: str, payload: dict, token: str):  # type: ignore[no-untyped-def]
    return client.post(f"/{event}", data=json.dumps(payload), content_type="application/json",
                       headers={"Authorization": f"JWT {token}"})


def state(client_key: str = "client-a") -> InstallationState | None:
    with extensions.db.session() as s:
        inst = s.scalars(select(Installation).where(Installation.client_key == client_key)).first()
        return inst.state if inst else None


def installed(client, secret: str = "s" * 48) -> dict:  # type: ignore[no-untyped-def]
    payload = install_payload(secret=secret)
    assert post(client, "installed", payload, install_token("client-a", TEST_BASE_URL)).status_code == 204
    return payload


@pytest.mark.parametrize("event, final", [("disabled", InstallationState.DISABLED),
                                          ("enabled", InstallationState.ENABLED)])
def test_enabled_and_disabled_are_verified_with_the_shared_secret(client, event, final):
    payload = installed(client)
    if event == "enabled":
        with extensions.db.session() as s:
            s.scalars(select(Installation)).one().state = InstallationState.DISABLED
    token = request_token("client-a", payload["sharedSecret"], "POST", f"/{event}", sub=None)
    r = post(client, event, dict(payload, eventType=event), token)
    assert r.status_code == 204, r.json
    assert state() == final


def test_disabled_signed_with_the_install_key_is_refused(client):
    # Atlassian never signs disabled with RS256: such a token is not one of its disable calls.
    payload = installed(client)
    token = install_token("client-a", TEST_BASE_URL, path="/disabled")
    r = post(client, "disabled", dict(payload, eventType="disabled"), token)
    assert r.status_code == 401 and "HS256" in r.json["error"]
    assert state() == InstallationState.ENABLED


def test_disabled_with_another_secret_or_for_an_unknown_site_is_refused_alike(client):
    payload = installed(client)
    forged = request_token("client-a", "f" * 48, "POST", "/disabled", sub=None)
    unknown = request_token("client-zzz", "f" * 48, "POST", "/disabled", sub=None)
    r1 = post(client, "disabled", dict(payload, eventType="disabled"), forged)
    r2 = post(client, "disabled", dict(payload, clientKey="client-zzz", eventType="disabled"), unknown)
    assert r1.status_code == r2.status_code == 401
    assert r1.json == r2.json  # the answer does not tell which sites exist
    assert state() == InstallationState.ENABLED


def test_disabled_whose_body_names_another_site_is_refused(client):
    payload = installed(client)
    token = request_token("client-a", payload["sharedSecret"], "POST", "/disabled", sub=None)
    r = post(client, "disabled", dict(payload, clientKey="client-b", eventType="disabled"), token)
    assert r.status_code == 401 and "clientKey" in r.json["error"]


def test_a_site_disabled_from_the_sandbox_runs_nothing(test_config, tmp_path):
    from workers.schedule import due_connections

    with stack(test_config, tmp_path) as s:
        cid = s.connection(directory([("u1", "one@example.com", True)], {"eng": ["u1"]}))
        s.cloud.disable_app("com.example.usersync")
        with extensions.db.session() as session:
            assert session.get(Installation, s.installation_id).state == InstallationState.DISABLED
            session.get(Connection, cid).next_run_at = None  # due now, were the site enabled
        assert cid not in [row[0] for row in due_connections(extensions.db, datetime.now(UTC))]
        run = s.sync(cid)
        assert run.status == "failed" and "not enabled" in run.error
        assert "eng" not in s.group_names()

        s.cloud.enable_app("com.example.usersync")
        assert s.sync(cid).status == "succeeded"
        assert s.members("eng") == {"one@example.com"}
