"""Installing a Connect app (signed RS256 lifecycle), its JWT calls, and webhook delivery."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import pytest
import requests
from atlassian_jwt.url_utils import hash_url
from flask import Flask, request

from sandbox.atlassian.installer import InstallError
from sandbox.atlassian.spec import descriptor_problems
from sandbox.atlassian.testing import SiteHandle
from sandbox.live import LiveServer

from .conftest import ALICE, ENGINEERING

APP_KEY = "com.example.usersync-test"


@dataclass
class FakeApp:
    """A tiny Connect app that records lifecycle calls and verifies them like a real one."""

    site_url: str = ""
    base_url: str = ""
    scopes: list[str] = field(default_factory=lambda: ["READ", "ADMIN"])
    installed_status: int = 204
    calls: list[dict] = field(default_factory=list)
    secret: str = ""

    def verify_install(self, token: str, body: dict) -> dict:
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS256"
        pem = requests.get(f"{self.site_url}/connect-install-keys/{header['kid']}", timeout=5)
        assert pem.status_code == 200
        claims = jwt.decode(token, pem.text, algorithms=["RS256"], audience=self.base_url)
        assert claims["iss"] == body["clientKey"]
        assert claims["qsh"] == hash_url("POST", request.full_path.rstrip("?"))
        return claims

    def flask(self) -> Flask:
        app = Flask("fake-connect-app")

        @app.get("/atlassian-connect.json")
        def descriptor():
            return {"key": APP_KEY, "name": "UserSync test", "baseUrl": self.base_url,
                    "authentication": {"type": "jwt"}, "scopes": self.scopes,
                    "apiMigrations": {"signed-install": True, "context-qsh": True},
                    "lifecycle": {e: f"/{e}" for e in
                                  ("installed", "enabled", "disabled", "uninstalled")},
                    "modules": {"webhooks": [{"event": "user_created", "url": "/hooks/user"}]}}

        @app.post("/<event>")
        def lifecycle(event: str):
            token = request.headers["Authorization"].removeprefix("JWT ")
            body = request.get_json()
            if event in ("enabled", "disabled"):
                # signed with the shared secret, not the install key
                claims = jwt.decode(token, self.secret, algorithms=["HS256"])
                assert claims["iss"] == body["clientKey"]
                assert claims["qsh"] == hash_url("POST", f"/{event}")
            else:
                claims = self.verify_install(token, body)
            self.secret = body["sharedSecret"]
            self.calls.append({"event": event, "body": body, "claims": claims})
            return "", self.installed_status if event == "installed" else 204

        @app.post("/hooks/user")
        def hook():
            token = request.headers["Authorization"].removeprefix("JWT ")
            claims = jwt.decode(token, self.secret, algorithms=["HS256"])
            assert claims["qsh"] == hash_url("POST", "/hooks/user")
            self.calls.append({"event": "webhook", "body": request.get_json(),
                               "claims": claims})
            return "", 204

        return app


@pytest.fixture()
def fake_app(cloud: SiteHandle) -> Iterator[FakeApp]:
    app = FakeApp(site_url=cloud.base_url)
    with LiveServer(app.flask()) as server:
        app.base_url = server.url
        yield app


def app_jwt(secret: str, method: str, path_and_query: str, *, iss: str = APP_KEY,
            expires_in: int = 180, qsh: str | None = None) -> str:
    now = int(time.time())
    return jwt.encode({"iss": iss, "iat": now, "exp": now + expires_in,
                       "qsh": qsh or hash_url(method, path_and_query)}, secret, algorithm="HS256")


def call(cloud: SiteHandle, method: str, path: str, token: str, **kwargs) -> requests.Response:
    return requests.request(method, cloud.url(path), timeout=5,
                            headers={"Authorization": f"JWT {token}"}, **kwargs)


def test_install_is_signed_rs256_and_verifiable_with_the_served_key(cloud, fake_app):
    installation = cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json")
    events = [c["event"] for c in fake_app.calls]
    assert events == ["installed", "enabled"]
    body = fake_app.calls[0]["body"]
    assert body["clientKey"] == installation.client_key
    assert body["sharedSecret"] == installation.shared_secret
    assert body["key"] == APP_KEY and body["eventType"] == "installed"
    assert body["baseUrl"] == cloud.base_url and body["productType"] == "jira"
    assert {"displayUrl", "description", "serviceEntitlementNumber"} <= set(body)
    assert fake_app.calls[0]["claims"]["aud"] == [fake_app.base_url]
    assert requests.get(cloud.url("/connect-install-keys/unknown"), timeout=5).status_code == 404


def test_failed_installed_callback_fails_the_install(cloud, fake_app):
    fake_app.installed_status = 500
    with pytest.raises(InstallError, match="500"):
        cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json")
    assert cloud.sandbox.installations.get(APP_KEY) is None


def test_app_jwt_reads_but_group_writes_are_inaccessible(cloud, fake_app):
    secret = cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json").shared_secret
    path = f"/rest/api/3/group/member?groupId={ENGINEERING}"
    assert call(cloud, "GET", path, app_jwt(secret, "GET", path)).status_code == 200
    write = call(cloud, "POST", f"/rest/api/3/group/user?groupId={ENGINEERING}",
                 app_jwt(secret, "POST", f"/rest/api/3/group/user?groupId={ENGINEERING}"),
                 json={"accountId": ALICE})
    assert write.status_code == 403 and "INACCESSIBLE" in write.json()["errorMessages"][0]
    wiki = "/wiki/rest/api/group?limit=5"
    assert call(cloud, "GET", wiki, app_jwt(secret, "GET", "/rest/api/group?limit=5")
                ).status_code == 200
    # the qsh path is relative to the product base URL, which for Confluence ends in /wiki
    assert call(cloud, "GET", wiki, app_jwt(secret, "GET", wiki)).status_code == 401
    logged = cloud.requests.matching("POST", "/group/user")
    assert logged[-1].credential == "jwt" and logged[-1].status == 403


def test_bad_tokens_are_401_with_a_reason(cloud, fake_app):
    secret = cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json").shared_secret
    path = "/rest/api/3/group/bulk"
    cases = {
        "qsh": app_jwt(secret, "GET", path, qsh="0" * 64),
        "expired": app_jwt(secret, "GET", path, expires_in=-5),
        "signature": app_jwt("not-the-shared-secret-of-this-app-at-all", "GET", path),
        "installed": app_jwt(secret, "GET", path, iss="com.example.other"),
        "malformed": "not.a.jwt",
    }
    for reason, token in cases.items():
        response = call(cloud, "GET", path, token)
        assert response.status_code == 401, reason
        assert reason in response.json()["errorMessages"][0], reason


def test_scopes_come_from_the_descriptor(cloud, fake_app):
    fake_app.scopes = ["READ"]
    secret = cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json").shared_secret
    path = "/rest/api/3/group/bulk"
    denied = call(cloud, "GET", path, app_jwt(secret, "GET", path))
    assert denied.status_code == 403 and "ADMIN scope" in denied.json()["errorMessages"][0]
    search = "/rest/api/3/user/search?query=alice%40example.com"
    assert call(cloud, "GET", search, app_jwt(secret, "GET", search)).json()[0][
        "accountId"] == ALICE


def test_disable_enable_uninstall(cloud, fake_app):
    secret = cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json").shared_secret
    path = "/rest/api/3/myself"
    cloud.disable_app(APP_KEY)
    assert call(cloud, "GET", path, app_jwt(secret, "GET", path)).status_code == 401
    cloud.enable_app(APP_KEY)
    me = call(cloud, "GET", path, app_jwt(secret, "GET", path)).json()
    assert me["accountType"] == "app"
    cloud.uninstall_app(APP_KEY)
    assert call(cloud, "GET", path, app_jwt(secret, "GET", path)).status_code == 401
    assert [c["event"] for c in fake_app.calls][-3:] == ["disabled", "enabled", "uninstalled"]


def test_reinstall_keeps_client_key_and_rotates_secret(cloud, fake_app):
    first = cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json")
    second = cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json")
    assert first.client_key == second.client_key and first.shared_secret != second.shared_secret


def test_webhooks_are_signed_with_the_shared_secret(cloud, fake_app):
    cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json")
    assert cloud.send_webhook("user_created", ALICE) == [204]
    assert cloud.send_webhook("user_deleted", ALICE) == []  # the app does not listen to it
    hook = fake_app.calls[-1]
    assert hook["body"]["webhookEvent"] == "user_created"
    assert hook["body"]["user"]["accountId"] == ALICE
    assert hook["claims"]["iss"] == cloud.sandbox.installations.get(APP_KEY).client_key


def test_invalid_descriptor_is_refused(cloud):
    app = Flask("bad-descriptor")

    @app.get("/atlassian-connect.json")
    def descriptor():
        return {"key": "bad key!", "baseUrl": "ftp://nowhere", "authentication": {"type": "jwt"},
                "scopes": ["EVERYTHING"]}

    with LiveServer(app) as server, pytest.raises(InstallError) as caught:
        cloud.install_app(f"{server.url}/atlassian-connect.json")
    message = str(caught.value)
    assert "baseUrl" in message and "'bad key!' does not match" in message
    assert "'EVERYTHING' is not one of" in message
    assert cloud.sandbox.installations.all() == []


def test_the_product_descriptor_template_is_accepted():
    template = Path(__file__).resolve().parents[2] / "manifest" / "atlassian-connect.json"
    text = template.read_text().replace("{{base_url}}", "https://usersync.example.com")
    assert descriptor_problems(json.loads(text.replace("{{app_key}}", "com.example.sync"))) == []


def test_upm_installs_and_uninstalls_for_a_site_admin(cloud, fake_app):
    upm = cloud.url("/rest/plugins/1.0/")
    listing = requests.get(upm, auth=cloud.admin_auth, timeout=5)
    token = listing.headers["upm-token"]
    body = json.dumps({"pluginUri": f"{fake_app.base_url}/atlassian-connect.json"})
    headers = {"Content-Type": "application/vnd.atl.plugins.install.uri+json"}
    done = requests.post(upm, params={"token": token}, data=body, headers=headers,
                         auth=cloud.admin_auth, timeout=10)
    assert done.status_code == 202 and done.json()["status"]["plugin"]["key"] == APP_KEY
    task = requests.get(cloud.url(done.json()["links"]["self"]), auth=cloud.admin_auth,
                        timeout=5)
    assert task.json()["status"]["done"] is True
    replay = requests.post(upm, params={"token": token}, data=body, headers=headers,
                           auth=cloud.admin_auth, timeout=5)
    assert replay.status_code == 403
    assert requests.get(upm, auth=("dave@example.com", "dave-token"),
                        timeout=5).status_code == 403
    gone = requests.delete(cloud.url(f"/rest/plugins/1.0/{APP_KEY}-key"),
                           auth=cloud.admin_auth, timeout=5)
    assert gone.status_code == 204 and fake_app.calls[-1]["event"] == "uninstalled"


def test_inviting_a_user_sends_user_created(cloud, fake_app, admin):
    cloud.sandbox.auto_webhooks = True
    cloud.install_app(f"{fake_app.base_url}/atlassian-connect.json")
    invited = admin.post(cloud.url("/rest/api/3/user"),
                         json={"emailAddress": "new@example.com", "products": ["jira-software"]})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and fake_app.calls[-1]["event"] != "webhook":
        time.sleep(0.02)
    hook = fake_app.calls[-1]
    assert hook["event"] == "webhook"
    assert hook["body"]["user"]["accountId"] == invited.json()["accountId"]
