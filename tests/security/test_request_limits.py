"""Every route has a body limit (small for lifecycle and webhooks, SCIM its own), and lifecycle
tokens are verified before the body is read."""

from __future__ import annotations

import io
import json

import pytest

from app import extensions
from app.connect import tenancy
from app.limits import LIFECYCLE_MAX_BYTES, WEBHOOK_MAX_BYTES
from app.scim.http import MAX_BODY as SCIM_MAX_BODY
from tests.conftest import TEST_BASE_URL
from tests.connect.lifecycle import app_for
from tests.connect.tokens import (
    install_payload,
    install_token,
    request_token,
)


class WatchedBody(io.BytesIO):
    """A request body that remembers whether anyone read it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.was_read = False

    def read(self, *args):  # type: ignore[no-untyped-def]
        self.was_read = True
        return super().read(*args)

    def readline(self, *args):  # type: ignore[no-untyped-def]
        self.was_read = True
        return super().readline(*args)

    def readinto(self, buffer):  # type: ignore[no-untyped-def]
        self.was_read = True
        return super().readinto(buffer)

    def read1(self, *args):  # type: ignore[no-untyped-def]
        self.was_read = True
        return super().read1(*args)


@pytest.fixture()
def app(test_config, keys):  # type: ignore[no-untyped-def]
    return app_for(test_config, keys)

def padded_install(size: int) -> bytes:
    return json.dumps(dict(install_payload(), description="x" * size)).encode()


def test_oversized_lifecycle_body_is_413_before_any_token_work(client, keys):
    body = padded_install(LIFECYCLE_MAX_BYTES)
    r = client.post("/installed", data=body, content_type="application/json",
                    headers={"Authorization": f"JWT {install_token('client-a', TEST_BASE_URL)}"})
    assert r.status_code == 413 and str(LIFECYCLE_MAX_BYTES) in r.json["error"]
    assert keys.calls == []  # no key fetched for a request refused on its size


def test_chunked_lifecycle_body_over_the_limit_is_413(client):
    # No Content-Length: the limit holds while the body is read.
    body = padded_install(LIFECYCLE_MAX_BYTES)
    r = client.post("/installed", input_stream=io.BytesIO(body), content_type="application/json",
                    headers={"Authorization": f"JWT {install_token('client-a', TEST_BASE_URL)}"},
                    environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 413
    with extensions.db.session() as s:
        assert tenancy.by_client_key(s, "client-a") is None


def test_normal_install_fits(client):
    r = client.post("/installed", data=json.dumps(install_payload()), content_type="application/json",
                    headers={"Authorization": f"JWT {install_token('client-a', TEST_BASE_URL)}"})
    assert r.status_code == 204


@pytest.mark.parametrize("event, token", [
    ("installed", lambda: "not-a-jwt"),
    ("installed", lambda: None),
    ("installed", lambda: install_token("client-a", "https://evil.example")),
    ("uninstalled", lambda: install_token("client-a", TEST_BASE_URL, path="/installed")),
    ("disabled", lambda: request_token("client-a", "x" * 48, "POST", "/disabled")),
])
def test_lifecycle_token_is_checked_before_the_body_is_read(client, event, token):
    body = WatchedBody(json.dumps(install_payload()).encode())
    made = token()
    headers = {"Authorization": f"JWT {made}"} if made else {}
    r = client.post(f"/{event}", input_stream=body, content_type="application/json",
                    content_length=len(body.getvalue()), headers=headers)
    assert r.status_code == 401
    assert not body.was_read


def test_oversized_webhook_is_413(client):
    with extensions.db.session() as s:
        tenancy.save_install(s, install_payload("client-a", "a" * 40), extensions.secrets.encrypt)
    url = "/webhooks/atlassian/user_created"
    body = json.dumps({"user": {"accountId": "x" * WEBHOOK_MAX_BYTES}})
    r = client.post(url, data=body, content_type="application/json",
                    headers={"Authorization": f"JWT {request_token('client-a', 'a' * 40, 'POST', url)}"})
    assert r.status_code == 413


def test_every_route_has_the_global_limit(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    r = client.post("/connect/whoami", data=b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413


def test_scim_keeps_its_own_limit_and_error_format(client):
    from tests.scim.conftest import add_connection, issue_token

    issued = issue_token(add_connection())
    headers = {"Authorization": f"Bearer {issued.secret}"}
    # Larger than the global limit, within SCIM's: SCIM reads and judges it.
    big_user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "big",
                "padding": " " * (1024 * 1024 + 10)}
    r = client.post(issued.base_path + "/Users", data=json.dumps(big_user),
                    content_type="application/scim+json", headers=headers)
    assert r.status_code == 201, r.get_data(as_text=True)[:300]
    r = client.post(issued.base_path + "/Users", data=b"x" * (SCIM_MAX_BODY + 1),
                    content_type="application/scim+json", headers=headers)
    assert r.status_code == 413
    assert r.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
