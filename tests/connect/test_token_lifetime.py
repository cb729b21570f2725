"""Incoming tokens carry iat and live no longer than Atlassian's do (minutes, not years)."""

from __future__ import annotations

import json
import time

import jwt
import pytest

from app import extensions
from app.connect import tenancy
from tests.conftest import TEST_BASE_URL
from tests.connect.lifecycle import app_for
from tests.connect.tokens import (
    INSTALL_KID,
    INSTALL_PRIVATE,
    install_payload,
    install_token,
    request_token,
)
from workers.atlassian.qsh import qsh

YEAR = 365 * 24 * 3600
SECRET = "a" * 40


@pytest.fixture()
def app(test_config, keys):  # type: ignore[no-untyped-def]
    return app_for(test_config, keys)

def install(client, token: str):  # type: ignore[no-untyped-def]
    return client.post("/installed", data=json.dumps(install_payload()), content_type="application/json",
                       headers={"Authorization": f"JWT {token}"})


def test_install_token_of_a_year_is_refused(client):
    r = install(client, install_token("client-a", TEST_BASE_URL, exp_in=YEAR))
    assert r.status_code == 401 and "lives longer than 900 seconds" in r.json["error"]


def test_install_token_without_iat_is_refused(client):
    claims = {"iss": "client-a", "aud": [TEST_BASE_URL], "exp": int(time.time()) + 180,
              "qsh": qsh("POST", "/installed")}
    token = jwt.encode(claims, INSTALL_PRIVATE, algorithm="RS256", headers={"kid": INSTALL_KID})
    r = install(client, token)
    assert r.status_code == 401 and "iat" in r.json["error"]


def test_install_token_of_fifteen_minutes_is_accepted(client):
    assert install(client, install_token("client-a", TEST_BASE_URL, exp_in=900)).status_code == 204


@pytest.mark.parametrize("exp_in, status", [(YEAR, 401), (901, 401), (900, 200), (180, 200)])
def test_request_token_lifetime(client, exp_in, status):
    with extensions.db.session() as s:
        tenancy.save_install(s, install_payload("client-a", SECRET), extensions.secrets.encrypt)
    token = request_token("client-a", SECRET, "GET", "/connect/whoami", exp_in=exp_in)
    r = client.get("/connect/whoami", headers={"Authorization": f"JWT {token}"})
    assert r.status_code == status
    if status == 401:
        assert "lives longer" in r.json["error"]


def test_the_maximum_is_a_setting(test_config, keys):
    from app import create_app

    test_config.update(INSTALL_KEYS_URL=keys.url + "/", JWT_MAX_LIFETIME=120)
    client = create_app(test_config).test_client()
    assert install(client, install_token("client-a", TEST_BASE_URL, exp_in=180)).status_code == 401
