"""A streamed response (the admin API's CSV/JSON exports) is served whole over real HTTP: the
request-id teardown runs once more when the stream ends and must not break the body."""

from __future__ import annotations

import requests
from flask import Response, stream_with_context

from app import create_app
from sandbox.live import LiveServer


def test_a_streamed_body_arrives_complete_with_its_request_id(test_config):
    app = create_app(test_config)

    @app.get("/stream-probe")
    def probe():  # type: ignore[no-untyped-def]
        def rows():
            for i in range(3):
                yield f"row {i}\n"
        return Response(stream_with_context(rows()), mimetype="text/plain")

    with LiveServer(app) as server:
        answer = requests.get(f"{server.url}/stream-probe", headers={"X-Request-Id": "probe-1"}, timeout=10)
        again = requests.get(f"{server.url}/stream-probe", timeout=10)
    assert answer.status_code == 200 and answer.text == "row 0\nrow 1\nrow 2\n"
    assert answer.headers["X-Request-Id"] == "probe-1"
    assert again.text == answer.text
