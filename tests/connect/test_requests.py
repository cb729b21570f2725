"""Product → app requests: HS256 with the tenant's secret, qsh, context-qsh only where allowed."""

from __future__ import annotations

import jwt
import pytest

from app import extensions
from app.connect import tenancy
from tests.connect.tokens import INSTALL_PRIVATE, install_payload, request_token

SECRET_A = "a" * 40
SECRET_B = "b" * 40


@pytest.fixture()
def tenants(app):
    with extensions.db.session() as s:
        tenancy.save_install(s, install_payload("client-a", SECRET_A), extensions.secrets.encrypt)
        tenancy.save_install(s, install_payload("client-b", SECRET_B, "https://site-b.atlassian.net"),
                             extensions.secrets.encrypt)


def call(client, method: str, url: str, token: str | None, **kw):
    headers = {"Authorization": f"JWT {token}"} if token else {}
    return client.open(url, method=method, headers=headers, **kw)


def test_valid_token_reaches_the_view_with_tenant_and_user(client, tenants):
    r = call(client, "GET", "/connect/whoami?lic=none",
             request_token("client-a", SECRET_A, "GET", "/connect/whoami?lic=none", sub="acc-42"))
    assert r.status_code == 200
    assert r.json == {"clientKey": "client-a", "productType": "jira",
                      "baseUrl": "https://site-a.atlassian.net", "accountId": "acc-42"}


def test_token_in_query_parameter_for_page_loads(client, tenants, tmp_path):
    (tmp_path / "index.html").write_text("<html><head></head><body>admin page</body></html>")
    client.application.config["ADMIN_UI_DIST"] = str(tmp_path)
    token = request_token("client-a", SECRET_A, "GET", "/admin", qsh_value="context-qsh")
    r = client.get(f"/admin?jwt={token}&xdm_e=https%3A%2F%2Fsite-a.atlassian.net")
    assert r.status_code == 200 and b"admin page" in r.data
    assert client.get("/admin").status_code == 401


def test_each_tenant_sees_only_itself(client, tenants):
    r = call(client, "GET", "/connect/whoami",
             request_token("client-b", SECRET_B, "GET", "/connect/whoami"))
    assert r.json["clientKey"] == "client-b"
    # B's secret cannot speak for A, nor A's for B.
    r = call(client, "GET", "/connect/whoami",
             request_token("client-a", SECRET_B, "GET", "/connect/whoami"))
    assert r.status_code == 401


def unsigned_none(claims: dict) -> str:
    return jwt.encode(claims, None, algorithm="none")


@pytest.mark.parametrize("make, message", [
    (lambda: None, "missing JWT"),
    (lambda: unsigned_none({"iss": "client-a", "qsh": "x", "exp": 9999999999, "iat": 1}),
     "unsupported JWT algorithm"),
    (lambda: request_token("client-a", SECRET_A, "POST", "/webhooks/atlassian/user_created", alg="HS512"),
     "unsupported JWT algorithm"),
    (lambda: jwt.encode({"iss": "client-a", "qsh": "x", "exp": 9999999999, "iat": 1},
                        INSTALL_PRIVATE, algorithm="RS256"), "unsupported JWT algorithm"),
    (lambda: request_token("client-a", "wrong" * 8, "POST", "/webhooks/atlassian/user_created"),
     "could not be verified"),
    (lambda: request_token("client-zzz", SECRET_A, "POST", "/webhooks/atlassian/user_created"),
     "could not be verified"),
    (lambda: request_token("client-a", SECRET_A, "POST", "/webhooks/atlassian/user_created",
                           exp_in=-600), "expired"),
    (lambda: request_token("client-a", SECRET_A, "POST", "/webhooks/atlassian/user_updated"),
     "query string hash"),
    (lambda: request_token("client-a", SECRET_A, "POST", "/x", qsh_value="context-qsh"),
     "context-qsh"),
])
def test_bad_tokens_get_a_specific_401(client, tenants, make, message):
    r = call(client, "POST", "/webhooks/atlassian/user_created", make(), json={"user": {}})
    assert r.status_code == 401
    assert message in r.json["error"]
    assert SECRET_A not in r.get_data(as_text=True)


def test_alg_confusion_rs256_signed_with_shared_secret_as_hmac_key(client, tenants):
    # The classic confusion: header says HS256 but the "key" is public material; and the
    # reverse, header RS256 with the secret: both refused before any signature check.
    token = jwt.encode({"iss": "client-a", "qsh": "x", "exp": 9999999999, "iat": 1},
                       INSTALL_PRIVATE, algorithm="RS256")
    r = call(client, "GET", "/connect/whoami", token)
    assert r.status_code == 401 and "algorithm" in r.json["error"]


def test_tampered_query_with_old_qsh(client, tenants):
    token = request_token("client-a", SECRET_A, "GET", "/connect/whoami?project=A")
    assert call(client, "GET", "/connect/whoami?project=A", token).status_code == 200
    r = call(client, "GET", "/connect/whoami?project=B", token)
    assert r.status_code == 401 and "query string hash" in r.json["error"]


def test_context_qsh_accepted_on_page_routes_only(client, tenants):
    token = request_token("client-a", SECRET_A, "GET", "/", qsh_value="context-qsh")
    assert call(client, "GET", "/connect/whoami", token).status_code == 200
    r = call(client, "POST", "/webhooks/atlassian/user_created", token, json={})
    assert r.status_code == 401 and "context-qsh" in r.json["error"]


def test_disabled_installation_is_refused(client, tenants):
    with extensions.db.session() as s:
        tenancy.set_state(s, "client-a", "disabled")
    r = call(client, "GET", "/connect/whoami", request_token("client-a", SECRET_A, "GET", "/connect/whoami"))
    assert r.status_code == 401 and "could not be verified" in r.json["error"]


def test_webhook_with_valid_token_is_accepted(client, tenants):
    url = "/webhooks/atlassian/user_created"
    r = call(client, "POST", url, request_token("client-a", SECRET_A, "POST", url),
             json={"webhookEvent": "user_created", "user": {"accountId": "acc-9"}})
    assert r.status_code == 204


def test_within_leeway_an_expired_token_still_passes(client, tenants):
    token = request_token("client-a", SECRET_A, "GET", "/connect/whoami", exp_in=-30)
    assert call(client, "GET", "/connect/whoami", token).status_code == 200


def test_user_created_webhook_queues_a_sync_of_the_sites_connections(client, tenants, app):
    from redis import Redis

    from app.models import Connection
    from workers.queue import WAITING_KEY

    with extensions.db.session() as s:
        a = tenancy.by_client_key(s, "client-a")
        b = tenancy.by_client_key(s, "client-b")
        mine = Connection(installation_id=a.id, name="a", kind="directory_file", settings={})
        theirs = Connection(installation_id=b.id, name="b", kind="directory_file", settings={})
        s.add_all([mine, theirs])
        s.flush()
        mine_id, theirs_id = mine.id, theirs.id
    redis = Redis.from_url(app.config["REDIS_URL"])
    redis.delete(WAITING_KEY.format(cid=mine_id), WAITING_KEY.format(cid=theirs_id))
    url = "/webhooks/atlassian/user_created"
    r = call(client, "POST", url, request_token("client-a", SECRET_A, "POST", url),
             json={"webhookEvent": "user_created", "user": {"accountId": "acc-9"}})
    assert r.status_code == 204
    assert redis.get(WAITING_KEY.format(cid=mine_id)) is not None
    assert redis.get(WAITING_KEY.format(cid=theirs_id)) is None, "another tenant's connection"
    with extensions.db.session() as s:
        assert s.get(Connection, mine_id).pending_changes is True
        assert s.get(Connection, theirs_id).pending_changes is False
