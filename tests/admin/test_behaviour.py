"""Mapping, schedule, policy and SCIM tokens: stored where the worker reads them, each bad field named."""

from __future__ import annotations

from app import extensions
from app.models import Connection
from app.scim import tokens as scim_tokens
from workers.sync.policy import from_connection


def _conn(env, kind: str = "directory_file", settings: dict | None = None) -> int:  # type: ignore[no-untyped-def]
    r = env.post("/api/admin/connections", json={
        "kind": kind, "name": "C", "settings": settings if settings is not None
        else {"content": "{\"users\": [], \"groups\": []}", "format": "json"}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_mapping_round_trips_and_reaches_the_policy(admin_env):
    cid = _conn(admin_env)
    default = admin_env.get(f"/api/admin/connections/{cid}/mapping").get_json()
    assert default["mode"] == "on_the_fly" and default["rules"] == [] and default["filters"]["active_only"]
    body = {"mode": "manual", "transform": {"prefix": "idp-", "case": "lower"},
            "rules": [{"idp_group": "Engineering", "groups": ["eng", "jira-software-users"]}],
            "filters": {"include": ["eng*", "re:^ops-.*$"], "email_domains": ["example.com"]},
            "default_groups": ["everyone"]}
    r = admin_env.put(f"/api/admin/connections/{cid}/mapping", json=body)
    assert r.status_code == 200, r.get_json()
    got = admin_env.get(f"/api/admin/connections/{cid}/mapping").get_json()
    assert got["rules"] == body["rules"] and got["transform"] == body["transform"]
    with extensions.db.session() as session:
        conn = session.get(Connection, cid)
        policy = from_connection(conn.mapping_mode, conn.mapping_config(), conn.filters,
                                 conn.default_groups, conn.deprovision, conn.policy)
    assert policy.mapping.mode == "manual" and policy.mapping.rules == (("Engineering", ("eng", "jira-software-users")),)
    assert policy.mapping.transform.prefix == "idp-" and policy.mapping.default_groups == ("everyone",)


def test_mapping_errors_are_per_field(admin_env):
    cid = _conn(admin_env)
    r = admin_env.put(f"/api/admin/connections/{cid}/mapping", json={
        "mode": "sideways", "rules": [{"idp_group": "a", "groups": []}, {"groups": ["x"]}],
        "filters": {"include": ["re:(unclosed"]}, "default_groups": ["  "]})
    assert r.status_code == 400
    fields = r.get_json()["error"]["fields"]
    assert {"mode", "rules.0.groups", "rules.1.idp_group", "filters.include",
            "default_groups.0"} <= set(fields), fields


def test_schedule_accepts_intervals_cron_and_manual(admin_env):
    cid = _conn(admin_env)
    assert admin_env.get(f"/api/admin/connections/{cid}/schedule").get_json()["schedule"] == "hour"
    r = admin_env.put(f"/api/admin/connections/{cid}/schedule", json={"schedule": "*/15 * * * *"})
    assert r.get_json()["schedule"] == "*/15 * * * *" and r.get_json()["next_run_at"]
    r = admin_env.put(f"/api/admin/connections/{cid}/schedule", json={"schedule": None})
    assert r.get_json() == {"schedule": None, "next_run_at": None}
    r = admin_env.put(f"/api/admin/connections/{cid}/schedule", json={"schedule": "every tuesday"})
    assert r.status_code == 400 and "schedule" in r.get_json()["error"]["fields"]


def test_policy_guard_and_protected_accounts(admin_env):
    cid = _conn(admin_env)
    r = admin_env.put(f"/api/admin/connections/{cid}/policy", json={
        "deprovision": "suspend", "guard": {"max_removal_percent": 5, "max_users_affected": 3},
        "protected_account_ids": ["acc-boss"], "invite_products": ["jira-software"]})
    assert r.status_code == 200, r.get_json()
    got = admin_env.get(f"/api/admin/connections/{cid}/policy").get_json()
    assert got["deprovision"] == "suspend" and got["guard"]["max_removal_percent"] == 5
    assert got["guard"]["empty_hold_min_previous"] == 10 and got["protected_account_ids"] == ["acc-boss"]
    with extensions.db.session() as session:
        conn = session.get(Connection, cid)
        policy = from_connection(conn.mapping_mode, conn.mapping_config(), conn.filters,
                                 conn.default_groups, conn.deprovision, conn.policy)
    assert policy.sync.protected_account_ids == frozenset({"acc-boss"})
    assert policy.guard.max_users_affected == 3 and policy.sync.invite_products == ("jira-software",)
    assert got["invite_domains"] is None and got["adopt_existing_groups"] is False
    r = admin_env.put(f"/api/admin/connections/{cid}/policy", json={
        "deprovision": "delete_everyone", "guard": {"max_removal_percent": 150},
        "invite_products": ["confluence"], "invite_domains": ["not a domain"]})
    fields = r.get_json()["error"]["fields"]
    assert {"deprovision", "guard.max_removal_percent", "invite_products.0",
            "invite_domains"} <= set(fields), fields
    # the worker's own key, written by a first read, survives an edit that leaves it alone
    with extensions.db.session() as session:
        conn = session.get(Connection, cid)
        conn.policy = {**conn.policy, "invite_domains": ["example.com"], "future_key": 1}
    r = admin_env.put(f"/api/admin/connections/{cid}/policy",
                      json={**got, "invite_domains": ["example.com", "corp.example"],
                            "adopt_existing_groups": True})
    assert r.get_json()["invite_domains"] == ["example.com", "corp.example"]
    with extensions.db.session() as session:
        stored = session.get(Connection, cid).policy
    assert stored["future_key"] == 1 and stored["adopt_existing_groups"] is True


def test_scim_tokens_are_shown_once_and_revocable(admin_env):
    cid = _conn(admin_env, kind="scim_push", settings={})
    # a disabled connection's SCIM endpoint refuses everything: the admin enables it first
    assert admin_env.post(f"/api/admin/connections/{cid}/enable").status_code == 200
    conn = admin_env.get(f"/api/admin/connections/{cid}").get_json()
    assert conn["scim"]["base_url"].startswith(admin_env.app_url + "/scim/v2/")
    r = admin_env.post(f"/api/admin/connections/{cid}/scim-tokens")
    assert r.status_code == 201
    issued = r.get_json()
    assert issued["token"] and issued["base_url"] == conn["scim"]["base_url"]
    listed = admin_env.get(f"/api/admin/connections/{cid}/scim-tokens").get_json()
    assert [t["id"] for t in listed["items"]] == [issued["id"]]
    assert issued["token"] not in admin_env.get(f"/api/admin/connections/{cid}/scim-tokens").get_data(as_text=True)
    endpoint_id = conn["scim"]["base_url"].rsplit("/", 1)[1]
    with extensions.db.session() as session:
        assert scim_tokens.authenticate(session, endpoint_id, issued["token"]) == cid
    scim = admin_env.client.get(f"/scim/v2/{endpoint_id}/Users",
                                headers={"Authorization": f"Bearer {issued['token']}"})
    assert scim.status_code == 200
    assert admin_env.delete(f"/api/admin/connections/{cid}/scim-tokens/{issued['id']}").status_code == 204
    scim = admin_env.client.get(f"/scim/v2/{endpoint_id}/Users",
                                headers={"Authorization": f"Bearer {issued['token']}"})
    assert scim.status_code == 401
    assert admin_env.delete(f"/api/admin/connections/{cid}/scim-tokens/999").status_code == 404
    other = _conn(admin_env)
    assert admin_env.post(f"/api/admin/connections/{other}/scim-tokens").status_code == 409


def test_pickers_offer_the_idps_and_the_sites_groups(admin_env):
    import json

    content = json.dumps({
        "users": [{"id": "u1", "email": "a@example.com", "display_name": "A", "active": True},
                  {"id": "u2", "email": "b@example.com", "display_name": "B", "active": True}],
        "groups": [{"id": "g1", "name": "Engineering", "members": ["u1", "u2"], "parents": []},
                   {"id": "g2", "name": "Sales", "members": ["u2"], "parents": []}]})
    cid = _conn(admin_env, settings={"content": content, "format": "json"})
    idp = admin_env.get(f"/api/admin/connections/{cid}/idp-groups").get_json()
    assert idp == {"items": [{"id": "g1", "name": "Engineering", "members": 2},
                             {"id": "g2", "name": "Sales", "members": 1}], "complete": True}
    only = admin_env.get(f"/api/admin/connections/{cid}/idp-groups?query=eng").get_json()
    assert [g["name"] for g in only["items"]] == ["Engineering"]
    admin_env.cloud.site.add_group("eng-platform")
    site = admin_env.get("/api/admin/site-groups?query=ENG").get_json()["items"]
    assert [g["name"] for g in site] == ["eng-platform"] and site[0]["id"]
    every = {g["name"] for g in admin_env.get("/api/admin/site-groups").get_json()["items"]}
    assert {"eng-platform", "site-admins", "jira-admins"} <= every
    broken = _conn(admin_env, settings={"content": "{\"users\": 3}", "format": "json"})
    r = admin_env.get(f"/api/admin/connections/{broken}/idp-groups")
    assert r.status_code == 502 and r.get_json()["error"]["code"] == "bad_gateway"
