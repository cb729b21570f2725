"""The shared HTTP layer against a small live server: retries, auth refresh, error mapping, paging, pool."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask, jsonify, request
from marshmallow import Schema, fields

from sandbox.idps.common import cut_short
from sandbox.live import LiveServer
from tests.sources.conftest import TINY_BACKOFF, RecordingSleep
from workers.sources.base import (
    SourceAuthError,
    SourceConfigError,
    SourceError,
    SourceNotFound,
    SourcePermissionError,
    SourceUnreachable,
)
from workers.sources.http import (
    HttpClient,
    HttpSource,
    SourceTransientError,
    StaticAuth,
    Token,
    TokenAuth,
    convert,
    drain,
)
from workers.sync.model import Snapshot

ITEMS = list(range(23))


def make_app(state: dict) -> Flask:
    app = Flask("http-test")

    @app.before_request
    def count():
        state["hits"] = state.get("hits", 0) + 1

    @app.get("/offset")
    def offset():
        first, size = int(request.args["first"]), int(request.args["max"])
        return jsonify(ITEMS[first:first + size])

    @app.get("/link")
    def link():
        after = int(request.args.get("after", 0))
        response = jsonify(ITEMS[after:after + 10])
        if after + 10 < len(ITEMS):
            response.headers["Link"] = f'</link?after={after + 10}>; rel="next"'
        return response

    @app.get("/token")
    def token():
        start = int(request.args.get("pageToken", 0))
        body = {"items": ITEMS[start:start + 10]}
        if start + 10 < len(ITEMS):
            body["nextPageToken"] = str(start + 10)
        return jsonify(body)

    @app.get("/nexturl")
    def nexturl():
        skip = int(request.args.get("skip", 0))
        body = {"value": ITEMS[skip:skip + 10]}
        key = "@odata.nextLink" if skip + 10 < len(ITEMS) else "@odata.deltaLink"
        body[key] = f"{request.host_url}nexturl?skip={skip + 10}"
        return jsonify(body)

    @app.get("/elsewhere")
    def elsewhere():
        return jsonify({"value": [1], "@odata.nextLink": "http://127.0.0.2:9/steal"})

    @app.get("/elsewhere-link")
    def elsewhere_link():
        response = jsonify([1])
        response.headers["Link"] = '<http://127.0.0.2:9/steal>; rel="next"'
        return response

    @app.get("/shape/<kind>")
    def shape(kind: str):
        return jsonify({"list": [{"id": 1}], "object": {"items": "x"}, "record": [{"no": 1}]}[kind])

    @app.get("/status/<int:code>")
    def status(code: int):
        body = {"error": {"code": code, "message": "Quota exceeded",
                          "errors": [{"reason": request.args.get("reason", "forbidden")}]}}
        headers = {k: v for k, v in request.args.items() if k.startswith(("Retry", "X-"))}
        return jsonify(body), code, headers

    @app.get("/flaky")
    def flaky():
        state["flaky"] = state.get("flaky", 0) + 1
        if state["flaky"] <= state.get("fail_times", 2):
            return jsonify(error="busy"), 503, {"Retry-After": "2"}
        return jsonify(ok=True)

    @app.get("/secure")
    def secure():
        if request.headers.get("Authorization") != f"Bearer {state['valid']}":
            return jsonify(error="expired"), 401
        return jsonify(ok=True)

    @app.get("/slow")
    def slow():
        time.sleep(1.0)
        return jsonify(ok=True)

    @app.get("/moved")
    def moved():
        return "", 301, {"Location": "https://sso.example.com/auth/moved"}

    @app.get("/text")
    def text():
        return "<html>hello</html>"

    return app


def cutting(app: Flask, state: dict):  # type: ignore[no-untyped-def]
    """The app, but `/offset` answers are cut off part-way `state["cut_times"]` times."""
    def wsgi(environ, start_response):  # type: ignore[no-untyped-def]
        if environ["PATH_INFO"] == "/offset" and state.get("cut_times", 0) > 0:
            state["cut_times"] -= 1
            return cut_short(app, environ, start_response)
        return app(environ, start_response)
    return wsgi


@pytest.fixture
def server():
    state: dict = {"valid": "t1"}
    with LiveServer(cutting(make_app(state), state)) as live:
        yield live.url, state


def client(url: str, **kwargs) -> HttpClient:
    kwargs.setdefault("backoff", TINY_BACKOFF)
    return HttpClient(url, allow_private=True, label="TestIdP", **kwargs)


def test_paging_helpers_read_everything(server):
    url, state = server
    c = client(url)
    assert [i for p in c.pages_offset("offset", page_size=10) for i in p] == ITEMS
    assert [i for p in c.pages_link("link", items=lambda body: body) for i in p] == ITEMS
    assert [i for p in c.pages_token("token", items_field="items") for i in p] == ITEMS
    last: dict = {}
    assert [i for p in c.pages_next_url("nexturl", on_last=last.update) for i in p] == ITEMS
    assert last["@odata.deltaLink"].endswith("skip=30")
    assert c.requests == state["hits"] == 3 + 3 + 3 + 3


def test_next_links_to_another_host_are_refused(server):
    url, state = server
    c = client(url)
    with pytest.raises(SourceError, match="another host"):
        list(c.pages_link("elsewhere-link"))
    with pytest.raises(SourceError, match="another host"):
        list(c.pages_next_url("elsewhere"))
    assert state["hits"] == 2


def test_wrong_shapes_are_clear_errors(server):
    url, _ = server
    c = client(url)
    with pytest.raises(SourceError, match="list where a JSON object belongs"):
        list(c.pages_token("shape/list", items_field="items"))
    with pytest.raises(SourceError, match="str where a list of items belongs"):
        list(c.pages_token("shape/object", items_field="items"))
    with pytest.raises(SourceError, match="dict where a list of items belongs"):
        list(c.pages_link("shape/object", items=lambda body: body))
    snapshot = Snapshot()
    records = next(c.pages_link("shape/record"))
    assert list(convert(records, lambda r: r["id"], snapshot, "user")) == []
    assert not snapshot.complete and "malformed user record" in snapshot.errors[0]
    results = c.map_concurrent(lambda r: r["id"], records)
    assert "malformed record" in results[0][2].message


def test_offset_paging_stops_on_exact_multiple(server):
    url, _ = server
    pages = list(client(url).pages_offset("offset", page_size=23))
    assert [len(p) for p in pages] == [23, 0]


def test_retry_after_is_honoured(server):
    url, state = server
    sleeps = RecordingSleep()
    assert client(url, sleep=sleeps).get_json("flaky") == {"ok": True}
    assert sleeps.delays == [2.0, 2.0]


def test_retries_run_out_as_transient_error(server):
    url, state = server
    state["fail_times"] = 99
    sleeps = RecordingSleep()
    with pytest.raises(SourceTransientError, match="kept answering 503"):
        client(url, sleep=sleeps).get_json("flaky")
    assert len(sleeps.delays) == TINY_BACKOFF.max_retries


def test_an_answer_cut_off_part_way_is_sent_again(server):
    url, state = server
    state["cut_times"] = 2
    sleeps = RecordingSleep()
    assert client(url, sleep=sleeps).get_json("offset", {"first": 0, "max": 5}) == ITEMS[:5]
    assert len(sleeps.delays) == 2 and state["cut_times"] == 0


def test_answers_cut_off_on_every_try_are_unreachable_with_the_reason(server):
    url, state = server
    state["cut_times"] = 99
    with pytest.raises(SourceUnreachable, match="stopped part-way through its answer"):
        client(url, sleep=RecordingSleep()).get_json("offset", {"first": 0, "max": 5})
    assert state["cut_times"] == 99 - (TINY_BACKOFF.max_retries + 1)


def test_okta_reset_header_used_when_no_retry_after(server):
    url, _ = server
    sleeps = RecordingSleep()
    reset = int(time.time()) + 30
    with pytest.raises(SourceTransientError):
        client(url, sleep=sleeps).get_json(f"status/429?X-Rate-Limit-Reset={reset}")
    assert all(25 < d <= 31 for d in sleeps.delays)


def test_google_quota_403_is_retried_but_plain_403_is_not(server):
    url, _ = server
    sleeps = RecordingSleep()
    with pytest.raises(SourceTransientError):
        client(url, sleep=sleeps).get_json("status/403?reason=userRateLimitExceeded")
    assert len(sleeps.delays) == TINY_BACKOFF.max_retries
    with pytest.raises(SourcePermissionError, match="lack a permission.*Quota exceeded"):
        client(url, sleep=sleeps).get_json("status/403")


@pytest.mark.parametrize("code,error", [(401, SourceAuthError), (404, SourceNotFound),
                                        (400, SourceError)])
def test_statuses_map_to_source_errors(server, code, error):
    url, _ = server
    with pytest.raises(error) as caught:
        client(url).get_json(f"status/{code}")
    assert caught.value.status == code and "TestIdP" in caught.value.message


def test_redirects_are_not_followed_but_explained(server):
    url, state = server
    with pytest.raises(SourceConfigError, match="redirected /moved to https://sso.example.com"):
        client(url).get_json("moved")
    assert state["hits"] == 1


def test_non_json_answer_is_a_clear_error(server):
    url, _ = server
    with pytest.raises(SourceError, match="not JSON"):
        client(url).get_json("text")


class CountingAuth(TokenAuth):
    def __init__(self, state: dict):
        super().__init__()
        self.state, self.calls = state, 0
        self.lock = threading.Lock()

    def request_token(self, c: HttpClient) -> Token:
        with self.lock:
            self.calls += 1
        return Token(self.state["valid"], time.monotonic() + 60)


def test_401_refreshes_once_even_when_concurrent(server):
    url, state = server
    auth = CountingAuth(state)
    c = client(url, auth=auth, workers=8)
    assert c.get_json("secure") == {"ok": True}
    state["valid"] = "t2"  # the server rotates: the cached token is now refused
    results = c.map_concurrent(lambda _: c.get_json("secure"), range(16))
    assert all(r == {"ok": True} and e is None for _, r, e in results)
    assert auth.calls == 2


def test_401_after_refresh_is_an_auth_error(server):
    url, _ = server
    c = client(url, auth=StaticAuth("Bearer nope"))
    with pytest.raises(SourceAuthError, match="refused the credentials"):
        c.get_json("secure")


def test_connection_failures_are_explained(server):
    url, _ = server
    port = url.rsplit(":", 1)[1]
    with pytest.raises(SourceUnreachable, match="TLS handshake"):
        client(f"https://127.0.0.1:{port}").get_json("offset")
    with pytest.raises(SourceUnreachable, match="did not answer within 0.2 s"):
        client(url, timeout=(1.0, 0.2)).get_json("slow")
    with pytest.raises(SourceUnreachable, match="does not resolve"):
        client("http://idp.invalid").get_json("x")


def test_urls_are_guarded(server):
    url, _ = server
    with pytest.raises(SourceConfigError, match="private, loopback"):
        HttpClient("https://127.0.0.1:9", allow_private=False).get_json("x")
    with pytest.raises(SourceConfigError, match="only https"):
        client(url).get_json("file:///etc/passwd")


def test_map_concurrent_is_bounded_and_keeps_order():
    running, peak = 0, 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        if i == 5:
            raise SourceTransientError("page 5 failed")
        return i * 2

    results = HttpClient("https://idp.example", workers=3).map_concurrent(work, range(12))
    assert [r for _, r, _ in results] == [i * 2 if i != 5 else None for i in range(12)]
    assert isinstance(results[5][2], SourceTransientError)
    assert 1 < peak <= 3


def test_map_concurrent_reraises_auth_errors():
    def work(i: int) -> int:
        raise SourceAuthError("revoked")

    with pytest.raises(SourceAuthError):
        HttpClient("https://idp.example", workers=2).map_concurrent(work, range(3))


def test_drain_marks_incomplete_instead_of_raising():
    def pages():
        yield [1, 2]
        raise SourceTransientError("page 2 kept failing")

    snapshot = Snapshot()
    assert drain(pages(), snapshot, "users") == [1, 2]
    assert not snapshot.complete and "page 2 kept failing" in snapshot.errors[0]


class ProbeSettings(Schema):
    url = fields.String(required=True)


class ProbeSource(HttpSource):
    kind = "probe"
    label = "Probe"
    settings_schema = ProbeSettings

    def make_client(self) -> HttpClient:
        return self.new_client(self.settings["url"], StaticAuth("Bearer t1"))

    def check(self) -> str:
        self.client.get_json("flaky")
        return "fine"

    def fetch(self) -> Snapshot:
        return Snapshot()


def test_connection_check_is_quick_and_restores_the_fetch_policy(server):
    url, state = server
    state["fail_times"] = 99
    sleeps = RecordingSleep()
    source = ProbeSource({"url": url}, allow_private=True, backoff=TINY_BACKOFF, sleep=sleeps)
    check = source.test_connection()
    assert (check.ok, check.reason) == (False, "transient")
    assert sleeps.delays == [2.0] and source.requests == 2
    assert source.client.backoff == TINY_BACKOFF and source.client.timeout == (5.0, 30.0)
    state["fail_times"] = 0
    assert source.test_connection().message == "fine"
