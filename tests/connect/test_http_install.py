"""Over real HTTP: install with an RS256 token from our own key server, then call a JWT route."""

from __future__ import annotations

import json

import requests

from app import create_app
from sandbox.live import LiveServer
from tests.connect.tokens import (
    INSTALL_KID,
    INSTALL_PUBLIC,
    install_payload,
    install_token,
    key_server,
    request_token,
)


class LateApp:
    """Lets the server bind its port before the app (whose base URL is that port) exists."""

    app = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.app(environ, start_response)


def test_install_then_call_protected_route(test_config):
    late = LateApp()
    with key_server({INSTALL_KID: INSTALL_PUBLIC}) as keys, LiveServer(late) as server:
        test_config.update(BASE_URL=server.url, INSTALL_KEYS_URL=keys.url + "/")
        late.app = create_app(test_config)

        descriptor = requests.get(server.url + "/atlassian-connect.json", timeout=5).json()
        assert descriptor["baseUrl"] == server.url
        installed_url = server.url + descriptor["lifecycle"]["installed"]

        payload = install_payload("client-http", "x" * 48)
        r = requests.post(installed_url, data=json.dumps(payload), timeout=5, headers={
            "Content-Type": "application/json",
            "Authorization": "JWT " + install_token("client-http", server.url)})
        assert r.status_code == 204, r.text

        path = "/connect/whoami?lic=active&cp=%2Fjira"
        token = request_token("client-http", "x" * 48, "GET", path, sub="acc-7")
        r = requests.get(server.url + path, headers={"Authorization": f"JWT {token}"}, timeout=5)
        assert r.status_code == 200, r.text
        assert r.json()["clientKey"] == "client-http" and r.json()["accountId"] == "acc-7"
        assert r.headers["X-Request-Id"]

        forged = request_token("client-http", "y" * 48, "GET", path)
        r = requests.get(server.url + path, headers={"Authorization": f"JWT {forged}"}, timeout=5)
        assert r.status_code == 401
