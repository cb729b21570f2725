"""Forge Invocation Token checks over HTTP: a valid FIT is accepted; every broken one is refused
with 401 and leaves nothing behind."""

from __future__ import annotations

import base64
import dataclasses
import json
import time

import jwt
import pytest
import requests
from sqlalchemy import func, select

from app import extensions
from app.forge.jwks import ForgeKeys
from app.models import Installation
from sandbox.forge.keys import SigningKey


def _claims(stack, inst, **changes):  # type: ignore[no-untyped-def]
    claims = stack.forge.invoker._fit(inst, "core:scheduledTrigger", "usersync-sync-tick")
    claims.update(changes)
    return claims


def _post(stack, token: str | None, path: str = "/forge/schedule") -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(stack.app_url + path, data="{}", headers=headers, timeout=10)


def _installations() -> int:
    with extensions.db.session() as session:
        return session.scalar(select(func.count()).select_from(Installation))


@pytest.fixture()
def registered(forge_stack):  # type: ignore[no-untyped-def]
    """An installation known to the invoker and the site, but not yet to our app."""
    invoker = forge_stack.forge.invoker
    manifest, invoker.manifest = invoker.manifest, dataclasses.replace(invoker.manifest, events=())
    inst = forge_stack.install()
    invoker.manifest = manifest
    assert _installations() == 0
    return forge_stack, inst


def test_valid_fit_is_accepted(registered):
    stack, inst = registered
    key = stack.forge.invoker.key
    assert _post(stack, key.sign(_claims(stack, inst))).status_code == 204
    assert _installations() == 1


def _tampered(stack, inst) -> str:  # type: ignore[no-untyped-def]
    token = stack.forge.invoker.key.sign(_claims(stack, inst))
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["app"]["installationId"] = "ari:cloud:ecosystem::installation/someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def _unsigned(claims: dict) -> str:
    return jwt.encode(claims, key=None, algorithm="none")


CASES = {
    "alg none": lambda s, i: _unsigned(_claims(s, i)),
    "alg HS256": lambda s, i: jwt.encode(_claims(s, i), "a-shared-secret-of-32-bytes-len!", algorithm="HS256",
                                         headers={"kid": s.forge.invoker.key.kid}),
    "unknown kid": lambda s, i: SigningKey("not-published").sign(_claims(s, i)),
    "wrong aud": lambda s, i: s.forge.invoker.key.sign(
        _claims(s, i, aud="ari:cloud:ecosystem::app/11111111-1111-4111-8111-111111111111")),
    "wrong iss": lambda s, i: s.forge.invoker.key.sign(_claims(s, i, iss="forge/other-token")),
    "expired": lambda s, i: s.forge.invoker.key.sign(
        _claims(s, i, iat=int(time.time()) - 400, nbf=int(time.time()) - 400,
                exp=int(time.time()) - 300)),
    "not yet valid": lambda s, i: s.forge.invoker.key.sign(
        _claims(s, i, iat=int(time.time()) + 300, nbf=int(time.time()) + 300,
                exp=int(time.time()) + 360)),
    "too long lived": lambda s, i: s.forge.invoker.key.sign(
        _claims(s, i, exp=int(time.time()) + 86400)),
    "tampered payload": _tampered,
    "missing app claim": lambda s, i: s.forge.invoker.key.sign(
        {k: v for k, v in _claims(s, i).items() if k != "app"}),
    "missing token": lambda s, i: None,
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_fits_are_refused_with_401_and_no_side_effect(registered, case):
    stack, inst = registered
    token = CASES[case](stack, inst)
    for path in ("/forge/schedule", "/forge/lifecycle", "/forge/uninstall"):
        answer = _post(stack, token, path)
        assert answer.status_code == 401, (case, path, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized"
    assert _installations() == 0


def test_basic_and_connect_schemes_are_not_a_fit(registered):
    stack, _inst = registered
    for header in ("Basic YWRtaW46dG9rZW4=", "JWT abc.def.ghi", "Bearer "):
        answer = requests.post(stack.app_url + "/forge/schedule", headers={"Authorization": header},
                               timeout=10)
        assert answer.status_code == 401
    assert _installations() == 0


def test_no_app_id_configured_refuses_every_fit(registered, test_config):
    stack, inst = registered
    stack.flask_app.config["FORGE_APP_ID"] = ""
    answer = _post(stack, stack.forge.invoker.key.sign(_claims(stack, inst)))
    assert answer.status_code == 401 and "USERSYNC_FORGE_APP_ID" in answer.json()["error"]["message"]


def test_unknown_kid_rereads_the_jwks_at_most_once_a_minute():
    key = SigningKey("k1")
    fetches: list[str] = []
    now = [1000.0]

    def fetch(url: str) -> dict:
        fetches.append(url)
        return key.jwks()

    keys = ForgeKeys("https://jwks.test", fetch=fetch, clock=lambda: now[0])
    assert keys.key("k1") is not None and len(fetches) == 1
    assert keys.key("k1") is not None and len(fetches) == 1  # cached
    for _ in range(5):
        assert keys.key("made-up") is None
    assert len(fetches) == 1  # within the minute: no re-read
    now[0] += 61
    assert keys.key("made-up") is None and len(fetches) == 2
