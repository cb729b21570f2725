"""The admin page routes: /admin behind the Connect JWT, the bundle folder, the dev page token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import jwt

from workers.atlassian.qsh import qsh


def _bundle(env) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    dist = Path(env.app.config["ADMIN_UI_DIST"])
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><html><head><title>UGS</title></head>"
                                     "<body><div id=root></div></body></html>")
    (dist / "assets" / "app-1234.js").write_text("console.log('hi')")


def test_bundle_missing_is_a_503_page_with_instructions(admin_env):
    r = admin_env.client.get("/admin/app/")
    assert r.status_code == 503 and "python3 dev.py run" in r.get_data(as_text=True)
    r = admin_env.client.get("/admin", headers=admin_env.headers())
    assert r.status_code == 503


def test_admin_page_needs_the_connect_jwt_and_serves_the_bundle(admin_env):
    _bundle(admin_env)
    assert admin_env.client.get("/admin").status_code == 401
    r = admin_env.client.get("/admin", headers=admin_env.headers())
    assert r.status_code == 200 and 'content="connect"' in r.get_data(as_text=True)
    page_jwt = admin_env.token(qsh=qsh("GET", "/admin"))
    assert admin_env.client.get(f"/admin?jwt={page_jwt}").status_code == 200


def test_bundle_files_and_the_index_for_unknown_paths(admin_env):
    _bundle(admin_env)
    r = admin_env.client.get("/admin/app/assets/app-1234.js")
    assert r.status_code == 200 and "immutable" in r.headers["Cache-Control"]
    r = admin_env.client.get("/admin/app/connections/3/mapping?host=dev")
    assert r.status_code == 200 and "<div id=root>" in r.get_data(as_text=True)
    r = admin_env.client.get('/admin/app/?host="><script>alert(1)</script>')
    assert "<script>alert" not in r.get_data(as_text=True) and 'content="dev"' in r.get_data(as_text=True)
    r = admin_env.client.get("/admin/app/../../../../etc/passwd")
    assert "root:" not in r.get_data(as_text=True)


def test_dev_page_token_is_refused_outside_development(admin_env):
    assert admin_env.client.get(f"/dev/admin?client_key={admin_env.client_key}").status_code == 404


def test_dev_page_token_signs_a_context_token_for_the_sandbox_admin(admin_env):
    cloud = admin_env.cloud
    admin_env.app.config["USERSYNC_ENV"] = "development"
    admin_env.put("/api/admin/credential/api-token",
                  json={"email": cloud.admin_email, "api_token": cloud.admin_api_token})
    r = admin_env.client.get(f"/dev/admin?client_key={admin_env.client_key}")
    assert r.status_code == 302
    target = urlsplit(r.headers["Location"])
    assert target.path == "/admin/app/" and parse_qs(target.query)["host"] == ["dev"]
    token = parse_qs(target.query)["jwt"][0]
    claims = jwt.decode(token, admin_env.shared_secret, algorithms=["HS256"],
                        options={"verify_aud": False})
    assert claims["sub"] == cloud.admin_account_id and claims["qsh"] == "context-qsh"
    me = admin_env.client.get("/api/admin/me", headers={"Authorization": f"JWT {token}"})
    assert me.status_code == 200 and me.get_json()["account_id"] == cloud.admin_account_id
    assert admin_env.client.get("/dev/admin?client_key=unknown").status_code == 404


def test_descriptor_points_the_admin_pages_at_admin(admin_env):
    modules = admin_env.client.get("/atlassian-connect.json").get_json()["modules"]
    assert modules["adminPages"][0]["url"] == "/admin" and modules["configurePage"]["url"] == "/admin"
