"""Test helpers that play the product side of Connect: install tokens and request tokens."""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path

import jwt
from flask import Flask

from sandbox.live import LiveServer
from workers.atlassian.qsh import qsh

KEYS = Path(__file__).resolve().parents[1] / "keys"
INSTALL_PRIVATE = (KEYS / "install-private.pem").read_text()
INSTALL_PUBLIC = (KEYS / "install-public.pem").read_text()
OTHER_PRIVATE = (KEYS / "other-private.pem").read_text()
INSTALL_KID = "test-install-key-1"


def install_payload(client_key: str = "client-a", secret: str | None = None,
                    base_url: str = "https://site-a.atlassian.net", product: str = "jira") -> dict:
    return {
        "key": "com.example.usersync", "clientKey": client_key,
        "sharedSecret": secret or uuid.uuid4().hex + uuid.uuid4().hex,
        "baseUrl": base_url, "displayUrl": base_url, "productType": product,
        "description": "Atlassian JIRA at " + base_url, "serviceEntitlementNumber": "SEN-1",
        "eventType": "installed",
    }


def install_token(client_key: str, aud: str, *, path: str = "/installed", method: str = "POST",
                  key: str = INSTALL_PRIVATE, kid: str = INSTALL_KID, alg: str = "RS256",
                  exp_in: int = 180, qsh_value: str | None = None, iat: int | None = None) -> str:
    now = int(time.time()) if iat is None else iat
    claims = {"iss": client_key, "aud": [aud], "iat": now, "exp": now + exp_in,
              "qsh": qsh_value or qsh(method, path), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def request_token(client_key: str, secret: str, method: str, url: str, *, sub: str | None = "acc-1",
                  exp_in: int = 180, qsh_value: str | None = None, alg: str = "HS256") -> str:
    now = int(time.time())
    claims = {"iss": client_key, "iat": now, "exp": now + exp_in,
              "qsh": qsh_value or qsh(method, url)}
    if sub:
        claims["sub"] = sub
    return jwt.encode(claims, secret, algorithm=alg)


def key_server(keys: dict[str, str]) -> LiveServer:
    """An install key server of the test's own: GET /<kid> → PEM, 404 for unknown kids."""
    app = Flask("keyserver")
    app.config["calls"] = []
    # A path of its own: a later test's server may get this port again, and the app caches keys
    # per key server URL for the whole process.
    prefix = secrets.token_hex(8)

    @app.get(f"/{prefix}/<kid>")
    def key(kid: str):  # type: ignore[no-untyped-def]
        app.config["calls"].append(kid)
        if kid not in keys:
            return "not found", 404
        return keys[kid], 200, {"Content-Type": "application/x-pem-file"}

    server = LiveServer(app)
    server.url = f"{server.url}/{prefix}"
    server.calls = app.config["calls"]  # type: ignore[attr-defined]
    return server
