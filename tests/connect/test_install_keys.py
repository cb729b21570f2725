"""The install-key fetch is bounded: strict kids, no redirects, failures remembered, a fetch budget."""

from __future__ import annotations

import pytest
from flask import Flask, redirect

from app.connect.install_keys import (
    NEGATIVE_TTL,
    FetchBudget,
    InstallKeys,
    KeyServerUnavailable,
    UnknownKey,
    valid_kid,
)
from sandbox.live import LiveServer
from tests.connect.tokens import INSTALL_KID, INSTALL_PUBLIC, key_server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("kid", ["abc\n", "..", "../etc/passwd", "a/b", "a..b", "a%2Fb", " a",
                                 "a b", "", ".a", "a.", "x" * 129, None, 7])
def test_malformed_kids_are_refused_without_a_fetch(kid):
    with key_server({INSTALL_KID: INSTALL_PUBLIC}) as server:
        with pytest.raises(UnknownKey, match="malformed"):
            InstallKeys(server.url).get(kid)
        assert server.calls == []


@pytest.mark.parametrize("kid", ["0e50fccb-239d-4991-a5db-dc850ba3f236", "test-install-key-1",
                                 "key_2", "asap.prod-1"])
def test_uuid_like_kids_are_valid(kid):
    assert valid_kid(kid)


def test_redirects_are_not_followed():
    elsewhere_calls: list[str] = []
    elsewhere = Flask("elsewhere")

    @elsewhere.get("/<kid>")
    def key(kid: str):  # type: ignore[no-untyped-def]
        elsewhere_calls.append(kid)
        return INSTALL_PUBLIC

    with LiveServer(elsewhere) as other:
        bouncer = Flask("bouncer")

        @bouncer.get("/<kid>")
        def bounce(kid: str):  # type: ignore[no-untyped-def]
            return redirect(f"{other.url}/{kid}", code=302)

        with LiveServer(bouncer) as server, pytest.raises(KeyServerUnavailable, match="redirect"):
            InstallKeys(server.url).get(INSTALL_KID)
    assert elsewhere_calls == []


def test_unknown_kids_are_remembered_for_a_while():
    clock = Clock()
    with key_server({INSTALL_KID: INSTALL_PUBLIC}) as server:
        keys = InstallKeys(server.url, clock=clock)
        for _ in range(5):
            with pytest.raises(UnknownKey):
                keys.get("no-such-kid")
        assert server.calls == ["no-such-kid"]
        clock.now += NEGATIVE_TTL + 1
        with pytest.raises(UnknownKey):
            keys.get("no-such-kid")
        assert server.calls == ["no-such-kid", "no-such-kid"]
        assert keys.get(INSTALL_KID) == INSTALL_PUBLIC


def test_outbound_fetches_have_a_budget():
    clock = Clock()
    with key_server({INSTALL_KID: INSTALL_PUBLIC}) as server:
        keys = InstallKeys(server.url, budget=FetchBudget(burst=3, rate=0.5, clock=clock), clock=clock)
        for i in range(3):
            with pytest.raises(UnknownKey):
                keys.get(f"random-{i}")
        with pytest.raises(KeyServerUnavailable, match="too many"):
            keys.get("random-3")
        assert len(server.calls) == 3
        clock.now += 2  # one more fetch's worth of budget
        assert keys.get(INSTALL_KID) == INSTALL_PUBLIC
        assert keys.get(INSTALL_KID) == INSTALL_PUBLIC  # cached: costs nothing
        assert len(server.calls) == 4


def test_an_answer_larger_than_a_key_is_refused():
    with (key_server({INSTALL_KID: INSTALL_PUBLIC + "x" * 20000}) as server,
          pytest.raises(KeyServerUnavailable, match="more than a public key")):
        InstallKeys(server.url).get(INSTALL_KID)
