"""Custom REST next_url paging keeps our credentials on the base URL's origin."""

from __future__ import annotations

import pytest
from flask import Flask, jsonify, request

from sandbox.live import LiveServer
from tests.sources.conftest import TINY_BACKOFF
from workers.sources.base import SourceError
from workers.sources.custom_rest import CustomRestSource

API_KEY = "k-secret"


def people_api(next_link: str) -> tuple[Flask, list[dict]]:
    """An API whose first page names `next_link` as the next page; records every request."""
    app, seen = Flask("people"), []

    @app.get("/people")
    def people():  # type: ignore[no-untyped-def]
        seen.append({"path": request.full_path, "key": request.headers.get("X-Api-Key")})
        if request.args.get("page") == "2":
            return jsonify(items=[{"id": "u2", "email": "u2@example.com"}], next=None)
        return jsonify(items=[{"id": "u1", "email": "u1@example.com"}], next=next_link)

    return app, seen


def source(url: str) -> CustomRestSource:
    return CustomRestSource({
        "base_url": url, "auth": "api_key", "api_key_header": "X-Api-Key", "api_key": API_KEY,
        "users_path": "/people", "paging": "next_url", "next_url_path": "next",
        "items_path": "items", "user_id_path": "id", "user_email_path": "email"},
        allow_private=True, backoff=TINY_BACKOFF, sleep=lambda _s: None)


def test_next_url_on_the_same_origin_is_followed():
    app, seen = people_api("/people?page=2")
    with LiveServer(app) as idp:
        snapshot = source(idp.url).fetch()
    assert snapshot.complete, snapshot.errors
    assert set(snapshot.users) == {"u1", "u2"}
    assert len(seen) == 2


def test_next_url_on_another_port_gets_no_credentials_and_marks_incomplete():
    attacker, stolen = people_api("")
    with LiveServer(attacker) as evil:
        app, seen = people_api(f"{evil.url}/people?page=2")  # same host, another port
        with LiveServer(app) as idp:
            snapshot = source(idp.url).fetch()
    assert stolen == []  # not even a request without the key
    assert len(seen) == 1
    assert not snapshot.complete
    assert set(snapshot.users) == {"u1"}
    assert any("another host or origin" in e and "refusing to send credentials" in e
               for e in snapshot.errors), snapshot.errors


def test_next_url_with_another_scheme_is_refused():
    app, seen = people_api("https://127.0.0.1:1/people?page=2")
    with LiveServer(app) as idp:
        snapshot = source(idp.url).fetch()
    assert not snapshot.complete and len(seen) == 1


def test_next_url_of_the_wrong_type_is_a_clear_error():
    app, _ = people_api("")
    app.view_functions["people"] = lambda: jsonify(items=[], next=7)
    with LiveServer(app) as idp, pytest.raises(SourceError, match="int at 'next' where the next"):
        source(idp.url).fetch()
