"""Connections through the admin API: forms from the sources' schemas, field-level validation,
write-only secrets, enable/disable, delete keeping or purging history, another site's → 404."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app import extensions
from app.models import Change, Connection, Link, SyncRun
from workers.sync import engine

DIRECTORY = {"users": [{"id": "u1", "email": "ann@example.com", "display_name": "Ann", "active": True}],
             "groups": [{"id": "g1", "name": "eng", "members": ["u1"], "parents": []}]}
KEYCLOAK = {"base_url": "https://idp.example.com", "realm": "corp", "client_id": "sync",
            "client_secret": "s3cret-value"}


def create(admin_env, **body):  # type: ignore[no-untyped-def]
    r = admin_env.post("/api/admin/connections", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def directory_connection(admin_env, name: str = "HR") -> dict:  # type: ignore[no-untyped-def]
    return create(admin_env, kind="directory_file", name=name,
                  settings={"content": json.dumps(DIRECTORY), "format": "json"})


def test_kinds_carry_forms_generated_from_the_settings_schemas(admin_env):
    r = admin_env.get("/api/admin/kinds")
    kinds = {k["kind"]: k for k in r.get_json()["items"]}
    assert {"keycloak", "okta", "entra", "google", "ldap", "scim_push", "directory_file"} <= set(kinds)
    fields = {f["name"]: f for f in kinds["keycloak"]["fields"]}
    assert fields["base_url"]["type"] == "url" and fields["base_url"]["required"] is True
    assert fields["client_secret"]["secret"] is True
    assert fields["page_size"]["type"] == "integer" and fields["page_size"]["default"] == 1000
    assert kinds["directory_file"]["fields"][2]["choices"] == ["auto", "json", "csv"]
    assert kinds["scim_push"]["pushes"] is True and kinds["scim_push"]["fields"] == []  # internal field hidden


def test_create_validates_each_field_and_names_it(admin_env):
    r = admin_env.post("/api/admin/connections", json={
        "kind": "keycloak", "name": "",
        "settings": {"base_url": "not a url", "realm": "corp", "client_id": "c", "bogus": 1}})
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["code"] == "validation" and "name" in err["fields"]
    r = admin_env.post("/api/admin/connections", json={
        "kind": "keycloak", "name": "KC", "settings": {"base_url": "not a url", "realm": "corp",
                                                       "client_id": "c"}})
    fields = r.get_json()["error"]["fields"]
    assert fields["settings.base_url"] == ["Not a valid URL."]
    assert "settings.client_secret" in fields
    r = admin_env.post("/api/admin/connections", json={"kind": "nope", "name": "x"})
    assert "kind" in r.get_json()["error"]["fields"]
    r = admin_env.post("/api/admin/connections", data="{", content_type="application/json")
    assert r.status_code == 400 and "_body" in r.get_json()["error"]["fields"]
    r = admin_env.post("/api/admin/connections", data="kind=x")
    assert r.status_code == 415


def test_secrets_are_write_only(admin_env):
    conn = create(admin_env, kind="keycloak", name="KC", settings=KEYCLOAK)
    assert conn["settings"]["client_secret"] == "set"
    assert conn["enabled"] is False  # the wizard enables at the end
    for path in (f"/api/admin/connections/{conn['id']}", "/api/admin/connections"):
        assert "s3cret-value" not in admin_env.get(path).get_data(as_text=True)
    # a change without the secret keeps it; "set" is not taken for a new value
    r = admin_env.patch(f"/api/admin/connections/{conn['id']}",
                        json={"name": "Keycloak", "settings": {"realm": "staff", "client_secret": "set"}})
    assert r.status_code == 200, r.get_json()
    with extensions.db.session() as session:
        stored = session.get(Connection, conn["id"])
        assert stored.get_secrets(extensions.secrets.decrypt) == {"client_secret": "s3cret-value"}
        assert stored.settings["realm"] == "staff" and "client_secret" not in stored.settings
    r = admin_env.patch(f"/api/admin/connections/{conn['id']}",
                        json={"settings": {"client_secret": "n3w-secret"}})
    with extensions.db.session() as session:
        stored = session.get(Connection, conn["id"])
        assert stored.get_secrets(extensions.secrets.decrypt) == {"client_secret": "n3w-secret"}
    r = admin_env.patch(f"/api/admin/connections/{conn['id']}", json={"settings": {"base_url": "ftp://x"}})
    assert r.status_code == 400 and "settings.base_url" in r.get_json()["error"]["fields"]


def test_server_files_are_refused_outside_development(admin_env, tmp_path):
    r = admin_env.post("/api/admin/connections", json={
        "kind": "directory_file", "name": "F", "settings": {"path": "/etc/passwd"}})
    assert r.status_code == 400 and "settings.path" in r.get_json()["error"]["fields"]


def test_enable_disable_and_list(admin_env):
    conn = directory_connection(admin_env)
    assert admin_env.post(f"/api/admin/connections/{conn['id']}/enable").get_json()["enabled"] is True
    assert admin_env.post(f"/api/admin/connections/{conn['id']}/disable").get_json()["enabled"] is False
    items = admin_env.get("/api/admin/connections").get_json()["items"]
    assert [c["id"] for c in items] == [conn["id"]]


def test_test_connection_answers_ok_or_what_is_wrong(admin_env):
    conn = directory_connection(admin_env)
    r = admin_env.post(f"/api/admin/connections/{conn['id']}/test")
    assert r.get_json() == {"ok": True, "reason": "ok", "message": "Read 1 users and 1 groups."}
    r = admin_env.post("/api/admin/connections/test", json={
        "kind": "directory_file", "settings": {"content": "{\"users\": 5}", "format": "json"}})
    assert r.status_code == 200 and r.get_json()["ok"] is False


def test_test_connection_follows_the_workers_url_rule(admin_env):
    """http on loopback: with the operator's rule allowing private URLs (as the worker runs in
    development) the check reaches the address and reports it unreachable, not refused."""
    settings = {**KEYCLOAK, "base_url": "http://127.0.0.1:9"}
    body = {"kind": "keycloak", "settings": settings}
    allowed = admin_env.post("/api/admin/connections/test", json=body).get_json()
    assert allowed["ok"] is False and allowed["reason"] == "unreachable", allowed
    admin_env.app.config["ALLOW_PRIVATE_URLS"] = False
    refused = admin_env.post("/api/admin/connections/test", json=body).get_json()
    assert refused["reason"] == "config" and "http" in refused["message"]


def _history(connection_id: int) -> int:
    run_id = engine.start_run(extensions.db, connection_id, "manual", False)
    with extensions.db.session() as session:
        session.add(Change(run_id=run_id, seq=1, kind="add_member", outcome="applied"))
        session.add(Link(connection_id=connection_id, kind="user", idp_id="u1", atlassian_id="a1"))
    return run_id


def test_delete_keeps_history_by_default(admin_env):
    conn = directory_connection(admin_env)
    run_id = _history(conn["id"])
    assert admin_env.delete(f"/api/admin/connections/{conn['id']}").status_code == 204
    assert admin_env.get(f"/api/admin/connections/{conn['id']}").status_code == 404
    assert admin_env.get("/api/admin/connections").get_json()["items"] == []
    assert admin_env.get(f"/api/admin/runs/{run_id}").status_code == 200
    with extensions.db.session() as session:
        stored = session.get(Connection, conn["id"])
        assert stored.enabled is False and stored.deleted_at is not None
        assert session.scalar(select(func.count()).select_from(Link)) == 1


def test_delete_with_purge_removes_links_and_history(admin_env):
    conn = directory_connection(admin_env)
    run_id = _history(conn["id"])
    assert admin_env.delete(f"/api/admin/connections/{conn['id']}?purge=true").status_code == 204
    assert admin_env.get(f"/api/admin/runs/{run_id}").status_code == 404
    with extensions.db.session() as session:
        for model in (Connection, SyncRun, Change, Link):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_another_sites_connection_is_404(admin_env):
    from app.connect.tenancy import by_client_key

    conn = directory_connection(admin_env)
    other_key, _ = admin_env.other_tenant()
    with extensions.db.session() as session:
        other = Connection(installation_id=by_client_key(session, other_key).id, name="theirs",
                           kind="directory_file", settings={"content": "{}"}, enabled=True)
        session.add(other)
        session.flush()
        other_id = other.id
    run_id = _history(other_id)
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/enable"),
                         ("POST", "/test"), ("GET", "/mapping"), ("PUT", "/schedule"),
                         ("GET", "/policy"), ("POST", "/preview"), ("POST", "/sync"),
                         ("GET", "/runs"), ("GET", "/scim-tokens"), ("GET", "/idp-groups")):
        kwargs = {"json": {"schedule": "hour"} if method == "PUT" else {"name": "mine"}} \
            if method in ("PUT", "PATCH") else {}
        r = admin_env.call(method, f"/api/admin/connections/{other_id}{path}", **kwargs)
        assert r.status_code == 404, (method, path, r.status_code)
    for path in ("", "/plan", "/changes", "/changes.csv"):
        assert admin_env.get(f"/api/admin/runs/{run_id}{path}").status_code == 404
    assert admin_env.post(f"/api/admin/runs/{run_id}/approve").status_code == 404
    assert [c["id"] for c in admin_env.get("/api/admin/connections").get_json()["items"]] == [conn["id"]]
    assert admin_env.get("/api/admin/connections/99999999999").status_code == 404
