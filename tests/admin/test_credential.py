"""The write credential: OAuth consent finished at our callback, org API key, legacy API token."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from app.admin import oauth_state


def test_oauth_consent_is_finished_at_our_callback(admin_env):
    r = admin_env.post("/api/admin/credential/oauth/start")
    assert r.status_code == 200, r.get_json()
    url = r.get_json()["authorize_url"]
    assert url.startswith(admin_env.cloud.base_url + "/authorize?")
    consent = requests.get(url, allow_redirects=False, timeout=10)
    assert consent.status_code == 302
    back = urlsplit(consent.headers["Location"])
    assert back.path == "/admin/oauth/callback"
    page = admin_env.client.get(f"{back.path}?{back.query}")
    assert page.status_code == 200 and "connected" in page.get_data(as_text=True)
    summary = admin_env.get("/api/admin/credential").get_json()
    assert summary["active"] == "oauth" and summary["oauth_available"] is True
    assert "access_token" not in admin_env.get("/api/admin/credential").get_data(as_text=True)
    check = admin_env.post("/api/admin/credential/check").get_json()
    assert check["ok"] is True and check["kind"] == "oauth", check
    # the same answer twice is refused: the code was used up
    again = admin_env.client.get(f"{back.path}?{back.query}")
    assert again.status_code == 502


def test_callback_refuses_forged_or_stale_state(admin_env):
    r = admin_env.client.get("/admin/oauth/callback?code=abc&state=forged")
    assert r.status_code == 400 and "does not come from" in r.get_data(as_text=True)
    with admin_env.app.app_context():
        old = oauth_state.make(admin_env.installation_id, admin_env.admin_id, now=0)
    r = admin_env.client.get(f"/admin/oauth/callback?code=abc&state={old}")
    assert r.status_code == 400 and "ten minutes" in r.get_data(as_text=True)
    r = admin_env.client.get("/admin/oauth/callback?error=access_denied")
    assert "access_denied" in r.get_data(as_text=True)


def test_api_token_is_the_legacy_choice_and_is_checked(admin_env):
    summary = admin_env.get("/api/admin/credential").get_json()
    assert summary["active"] is None and "Security requirements" in summary["api_token_caution"]
    first = admin_env.post("/api/admin/credential/check").get_json()
    assert first["ok"] is False and first["org_key"] is None
    cloud = admin_env.cloud
    r = admin_env.put("/api/admin/credential/api-token", json={"email": "nope", "api_token": "x"})
    assert r.status_code == 400 and {"email", "api_token"} <= set(r.get_json()["error"]["fields"])
    r = admin_env.put("/api/admin/credential/api-token",
                      json={"email": cloud.admin_email, "api_token": cloud.admin_api_token})
    body = r.get_json()
    assert body["active"] == "api_token" and body["items"][0]["email"] == cloud.admin_email
    assert cloud.admin_api_token not in r.get_data(as_text=True)
    assert admin_env.post("/api/admin/credential/check").get_json()["ok"] is True
    admin_env.put("/api/admin/credential/api-token",
                  json={"email": cloud.admin_email, "api_token": "wrong-token-value"})
    check = admin_env.post("/api/admin/credential/check").get_json()
    assert check["ok"] is False and check["kind"] == "api_token"
    assert admin_env.delete("/api/admin/credential/api_token").get_json()["active"] is None
    assert admin_env.delete("/api/admin/credential/everything").status_code == 400


def test_a_scoped_api_token_is_stored_as_such_and_checked_through_the_gateway(admin_env):
    cloud = admin_env.cloud
    cloud.site.user(cloud.admin_account_id).api_token_scopes = frozenset(
        {"read:jira-user", "manage:jira-configuration"})
    body = admin_env.put("/api/admin/credential/api-token",
                         json={"email": cloud.admin_email, "api_token": cloud.admin_api_token,
                               "scoped": True}).get_json()
    assert body["active"] == "api_token" and body["items"][0]["scoped"] is True
    check = admin_env.post("/api/admin/credential/check").get_json()
    assert check["ok"] is True, check
    assert cloud.requests.matching("GET", f"/ex/jira/{cloud.cloud_id}/rest/api/3/myself")


def test_org_key_is_stored_write_only(admin_env):
    r = admin_env.put("/api/admin/credential/org-key",
                      json={"org_id": admin_env.cloud.org_id, "api_key": admin_env.cloud.org_api_key})
    assert r.status_code == 200
    body = r.get_json()
    assert body["org_api_key"] == "set" and body["items"][0]["org_id"] == admin_env.cloud.org_id
    assert admin_env.cloud.org_api_key not in r.get_data(as_text=True)
    check = admin_env.post("/api/admin/credential/check").get_json()
    assert check["org_key"]["ok"] is True, check
    admin_env.put("/api/admin/credential/org-key",
                  json={"org_id": admin_env.cloud.org_id, "api_key": "not-the-real-key"})
    check = admin_env.post("/api/admin/credential/check").get_json()
    assert check["org_key"]["ok"] is False


def test_oauth_start_without_an_oauth_app_says_so(admin_env):
    from dataclasses import replace

    cfg = admin_env.app.config
    cfg["ATLASSIAN_CLIENT"] = replace(cfg["ATLASSIAN_CLIENT"], oauth_app=None)
    r = admin_env.post("/api/admin/credential/oauth/start")
    assert r.status_code == 409 and "USERSYNC_OAUTH_CLIENT_ID" in r.get_json()["error"]["message"]


def test_confluence_write_check_reads_the_current_user(admin_env):
    from sqlalchemy import update

    from app import extensions
    from app.models import Installation

    cloud = admin_env.cloud
    admin_env.put("/api/admin/credential/api-token",
                  json={"email": cloud.admin_email, "api_token": cloud.admin_api_token})
    with extensions.db.session() as session:
        session.execute(update(Installation).values(product_type="confluence"))
    check = admin_env.post("/api/admin/credential/check").get_json()
    assert check["ok"] is True, check
    assert cloud.requests.matching("GET", "/wiki/rest/api/user/current")
