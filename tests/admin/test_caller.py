"""Who may call the admin API: a valid context token of an administrator, checked at the site."""

from __future__ import annotations

from sqlalchemy import select, update

from app import extensions
from app.admin.caller import ADMIN_CACHE_SECONDS, AdminCache
from app.models import Installation


def test_admin_with_a_context_token_is_let_in(admin_env):
    r = admin_env.get("/api/admin/me")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["account_id"] == admin_env.admin_id and body["product"] == "jira"
    assert body["site_url"] == admin_env.cloud.base_url and body["via"] == "connect"
    assert body["credential"]["active"] is None
    checks = admin_env.cloud.requests.matching("POST", "/rest/api/3/permissions/check")
    assert len(checks) == 1


def test_non_admin_is_refused_with_403(admin_env):
    r = admin_env.get("/api/admin/connections", account_id=admin_env.member_id)
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "forbidden"


def test_an_account_the_site_does_not_know_is_refused(admin_env):
    r = admin_env.get("/api/admin/me", account_id="557058:not-a-user")
    assert r.status_code == 403


def test_missing_bad_and_foreign_tokens_are_401(admin_env):
    c = admin_env.client
    assert c.get("/api/admin/me").status_code == 401
    r = c.get("/api/admin/me", headers={"Authorization": "JWT not.a.token"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    wrong = admin_env.headers(secret="x" * 40)
    assert c.get("/api/admin/me", headers=wrong).status_code == 401
    expired = admin_env.headers(exp_in=-3600)
    assert c.get("/api/admin/me", headers=expired).status_code == 401
    # a qsh for another request is refused; the request's own qsh is accepted
    from workers.atlassian.qsh import qsh

    assert c.get("/api/admin/me", headers=admin_env.headers(qsh=qsh("GET", "/other"))).status_code == 401
    assert c.get("/api/admin/me", headers=admin_env.headers(qsh=qsh("GET", "/api/admin/me"))).status_code == 200


def test_a_token_without_sub_is_401(admin_env):
    import time

    import jwt

    now = int(time.time())
    token = jwt.encode({"iss": admin_env.client_key, "iat": now, "exp": now + 60,
                        "qsh": "context-qsh"}, admin_env.shared_secret, algorithm="HS256")
    r = admin_env.client.get("/api/admin/me", headers={"Authorization": f"JWT {token}"})
    assert r.status_code == 401 and "sub" in r.get_json()["error"]["message"]


def test_a_disabled_installation_is_401(admin_env):
    with extensions.db.session() as session:
        session.execute(update(Installation).values(state="disabled"))
    assert admin_env.get("/api/admin/me").status_code == 401


def test_the_admin_answer_is_cached_at_most_a_minute():
    now = [1000.0]
    cache = AdminCache(clock=lambda: now[0])
    cache.put((1, "a"), True)
    assert cache.get((1, "a")) is True
    now[0] += ADMIN_CACHE_SECONDS - 1
    assert cache.get((1, "a")) is True
    now[0] += 1
    assert cache.get((1, "a")) is None
    assert ADMIN_CACHE_SECONDS <= 60


def test_a_demoted_admin_is_refused_once_the_cache_expires(admin_env):
    from app.admin.caller import admin_cache

    assert admin_env.get("/api/admin/me").status_code == 200
    site = admin_env.cloud.site
    for name in ("site-admins", "jira-admins"):
        site.remove_member(site.group_by_name(name).group_id, admin_env.admin_id)
    assert admin_env.get("/api/admin/me").status_code == 200  # within the cached minute
    admin_cache.clear()  # as if the minute had passed
    assert admin_env.get("/api/admin/me").status_code == 403


def test_site_unreachable_for_the_admin_check_is_503(admin_env):
    admin_env.cloud.faults.inject(kind="status", status=500, path="/rest/api/3/permissions/check")
    r = admin_env.get("/api/admin/me")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "unavailable"


def test_confluence_uses_its_own_admin_check(admin_env):
    """A Confluence installation asks Confluence (user?expand=operations), not Jira."""
    wiki = admin_env.cloud.install_app(admin_env.app_url + "/atlassian-connect.json",
                                       "confluence")
    with extensions.db.session() as session:
        stored = session.scalars(select(Installation).where(
            Installation.client_key == wiki.client_key)).one()
        assert stored.product_type == "confluence" and stored.base_url.endswith("/wiki")
    admin_env.cloud.requests.clear()

    def me(account_id: str):  # type: ignore[no-untyped-def]
        token = admin_env.token(account_id, client_key=wiki.client_key, secret=wiki.shared_secret)
        return admin_env.client.get("/api/admin/me", headers={"Authorization": f"JWT {token}"})

    assert me(admin_env.admin_id).status_code == 200
    assert me(admin_env.member_id).status_code == 403
    assert admin_env.cloud.requests.matching("GET", "/wiki/rest/api/user")
    assert not admin_env.cloud.requests.matching("POST", "/rest/api/3/permissions/check")
