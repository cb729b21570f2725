"""Confluence v1 group routes: paging with start/limit/_links.next, writes, errors, shared state."""

from __future__ import annotations

import requests

from sandbox.atlassian.testing import running_site

from .conftest import ALICE, CAROL, DAVE, EMPTY, ENGINEERING, expect_request_violation

W = "/wiki/rest/api"


def test_group_list_follows_links_next_to_the_end():
    with running_site(groups=45, users=5, memberships=10) as cloud, requests.Session() as s:
        s.auth = cloud.admin_auth
        names, url, pages = [], cloud.url(f"{W}/group?limit=10"), 0
        while url:
            body = s.get(url).json()
            assert body["size"] == len(body["results"]) and body["limit"] == 10
            names += [g["name"] for g in body["results"]]
            nxt = body["_links"].get("next")
            url = cloud.url("/wiki" + nxt) if nxt else None
            pages += 1
        assert len(names) == 49 and len(set(names)) == 49 and pages == 5


def test_limit_is_capped_and_negative_start_is_400(cloud, admin):
    body = admin.get(cloud.url(f"{W}/group"), params={"limit": 1000}).json()
    assert body["limit"] == 200 and "next" not in body["_links"]
    bad = admin.get(cloud.url(f"{W}/group"), params={"start": -1})
    assert bad.status_code == 400 and bad.json()["statusCode"] == 400
    expect_request_violation(cloud, "query parameter 'start'")


def test_by_id_and_members(cloud, admin):
    group = admin.get(cloud.url(f"{W}/group/by-id"), params={"id": ENGINEERING}).json()
    assert group == {"type": "group", "name": "engineering", "id": ENGINEERING,
                     "_links": group["_links"]}
    missing = admin.get(cloud.url(f"{W}/group/by-id"), params={"id": "nope"})
    assert missing.status_code == 404 and "message" in missing.json()
    assert not cloud.violations.all()  # undocumented in the 2021 file, but what Confluence does
    members = admin.get(cloud.url(f"{W}/group/{ENGINEERING}/membersByGroupId"),
                        params={"limit": 2}).json()
    assert [u["accountId"] for u in members["results"]] == [ALICE, "b" * 24]
    assert members["_links"]["next"].endswith("start=2&limit=2")
    rest = admin.get(cloud.url(f"{W}/group/{ENGINEERING}/membersByGroupId"),
                     params={"start": 2, "limit": 2}).json()
    # Confluence has no "customer" account type; it answers ""
    assert rest["results"][0]["accountId"] == CAROL and rest["results"][0]["accountType"] == ""


def test_writes_share_state_with_jira(cloud, admin):
    created = admin.post(cloud.url(f"{W}/group"), json={"name": "wiki-writers"})
    assert created.status_code == 201
    group_id = created.json()["id"]
    jira = admin.get(cloud.url("/rest/api/3/group/bulk"), params={"groupId": group_id}).json()
    assert [g["name"] for g in jira["values"]] == ["wiki-writers"]
    dup = admin.post(cloud.url(f"{W}/group"), json={"name": "WIKI-writers"})
    assert dup.status_code == 400 and dup.json()["statusCode"] == 400
    url = cloud.url(f"{W}/group/userByGroupId")
    assert admin.post(url, params={"groupId": group_id},
                      json={"accountId": DAVE}).status_code == 201
    assert admin.post(url, params={"groupId": group_id},
                      json={"accountId": DAVE}).status_code == 400
    assert admin.post(url, params={"groupId": "nope"}, json={"accountId": DAVE}).status_code == 404
    assert admin.post(url, params={"groupId": group_id},
                      json={"accountId": "f" * 24}).status_code == 404
    jira_members = admin.get(cloud.url("/rest/api/3/group/member"),
                             params={"groupId": group_id}).json()
    assert [u["accountId"] for u in jira_members["values"]] == [DAVE]
    assert admin.delete(url, params={"groupId": group_id,
                                     "accountId": DAVE}).status_code == 204
    assert admin.delete(url, params={"groupId": group_id,
                                     "accountId": DAVE}).status_code == 400
    assert admin.delete(cloud.url(f"{W}/group"),
                        params={"name": "wiki-writers"}).status_code == 204
    assert group_id not in cloud.site.groups
    assert admin.delete(cloud.url(f"{W}/group"),
                        params={"name": "wiki-writers"}).status_code == 404


def test_delete_by_id(cloud, admin):
    assert admin.delete(cloud.url(f"{W}/group/by-id"), params={"id": EMPTY}).status_code == 204
    assert EMPTY not in cloud.site.groups


def test_licence_exhaustion_is_a_bare_500(cloud, admin):
    users = cloud.site.group_by_name("confluence-users")
    cloud.site.seats["confluence-users"] = len(users.members)
    full = admin.post(cloud.url(f"{W}/group/userByGroupId"), params={"groupId": users.group_id},
                      json={"accountId": ALICE})
    assert full.status_code == 500 and full.text == "Internal Server Error"
    assert ALICE not in users.members
