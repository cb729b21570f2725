"""Jira REST v3 group and user routes: paging, writes and every documented error."""

from __future__ import annotations

import requests

from sandbox.atlassian.testing import running_site

from .conftest import ALICE, BOB, CAROL, DAVE, EMPTY, ENGINEERING, SALES, expect_request_violation

R = "/rest/api/3"


def collect(session: requests.Session, url: str, params: dict) -> tuple[list, int]:
    """Follow nextPage links to the end; returns all values and the number of pages."""
    values, pages, next_url = [], 0, url
    while next_url:
        body = session.get(next_url, params=params if pages == 0 else None).json()
        values += body["values"]
        pages += 1
        next_url = body.get("nextPage")
        assert body["isLast"] == (next_url is None)
    return values, pages


def test_group_bulk_pages_through_every_group_in_name_order():
    with running_site(users=30, groups=120, memberships=300) as cloud, requests.Session() as s:
        s.auth = cloud.admin_auth
        values, pages = collect(s, cloud.url(f"{R}/group/bulk"), {"maxResults": 25})
        names = [v["name"] for v in values]
        assert len(names) == cloud.site.counts()["groups"] == 124  # 120 + 4 default groups
        assert names == sorted(names, key=str.lower) and pages == 5
        first = s.get(cloud.url(f"{R}/group/bulk"), params={"maxResults": 500}).json()
        assert first["maxResults"] == 50 and len(first["values"]) == 50 and first["total"] == 124


def test_group_bulk_filters_by_repeated_id_and_name(cloud, admin):
    body = admin.get(cloud.url(f"{R}/group/bulk"),
                     params=[("groupId", ENGINEERING), ("groupName", "SALES")]).json()
    assert {v["name"] for v in body["values"]} == {"engineering", "sales"}
    assert body["total"] == 2 and body["isLast"] is True


def test_group_member_pages_are_capped_at_50_and_skip_inactive_by_default():
    with running_site(users=130, groups=1, memberships=130) as cloud, requests.Session() as s:
        s.auth = cloud.admin_auth
        group = cloud.site.group_by_name("group-00000")
        victim = next(iter(group.members))
        cloud.site.set_suspended(victim, True)
        url = cloud.url(f"{R}/group/member")
        active, pages = collect(s, url, {"groupId": group.group_id, "maxResults": 100})
        assert len(active) == 129 and pages == 3 and victim not in {u["accountId"] for u in active}
        every, _ = collect(s, url, {"groupId": group.group_id, "includeInactiveUsers": "true"})
        assert len(every) == 130 and len({u["accountId"] for u in every}) == 130


def test_group_member_by_name_and_user_fields(cloud, admin):
    body = admin.get(cloud.url(f"{R}/group/member"),
                     params={"groupname": "engineering", "includeInactiveUsers": "true"}).json()
    by_id = {u["accountId"]: u for u in body["values"]}
    assert set(by_id) == {ALICE, BOB, CAROL}
    assert by_id[BOB]["active"] is False and by_id[CAROL]["accountType"] == "customer"
    assert by_id[ALICE]["emailAddress"] == "alice@example.com"


def test_unknown_group_is_404_and_missing_group_is_400(cloud, admin):
    missing = admin.get(cloud.url(f"{R}/group/member"), params={"groupId": "nope"})
    assert missing.status_code == 404 and missing.json()["errorMessages"]
    assert admin.get(cloud.url(f"{R}/group/member")).status_code == 400
    assert admin.delete(cloud.url(f"{R}/group"), params={"groupId": "nope"}).status_code == 404


def test_create_group_then_duplicate_name_is_400(cloud, admin):
    created = admin.post(cloud.url(f"{R}/group"), json={"name": "Platform"})
    assert created.status_code == 201
    group_id = created.json()["groupId"]
    assert cloud.site.group(group_id).name == "Platform"
    again = admin.post(cloud.url(f"{R}/group"), json={"name": "platform"})
    assert again.status_code == 400 and "already exists" in again.json()["errorMessages"][0]
    assert admin.post(cloud.url(f"{R}/group"), json={"name": " "}).status_code == 400


def test_create_group_without_body_is_400_and_flagged(cloud, admin):
    response = admin.post(cloud.url(f"{R}/group"))
    assert response.status_code == 400
    expect_request_violation(cloud, "missing required request body")


def test_delete_group_with_swap(cloud, admin):
    bad_swap = admin.delete(cloud.url(f"{R}/group"),
                            params={"groupId": SALES, "swapGroupId": "nope"})
    assert bad_swap.status_code == 404 and SALES in cloud.site.groups
    ok = admin.delete(cloud.url(f"{R}/group"), params={"groupId": SALES, "swapGroupId": EMPTY})
    assert ok.status_code == 200 and SALES not in cloud.site.groups


def test_add_and_remove_member_with_documented_errors(cloud, admin):
    url = cloud.url(f"{R}/group/user")
    added = admin.post(url, params={"groupId": EMPTY}, json={"accountId": DAVE})
    assert added.status_code == 201 and added.json()["name"] == "empty"
    assert DAVE in cloud.site.group(EMPTY).members
    again = admin.post(url, params={"groupId": EMPTY}, json={"accountId": DAVE})
    assert again.status_code == 400 and "already a member" in again.json()["errorMessages"][0]
    assert admin.post(url, params={"groupId": EMPTY},
                      json={"accountId": "f" * 24}).status_code == 404
    assert admin.post(url, params={"groupId": "nope"},
                      json={"accountId": DAVE}).status_code == 404
    assert admin.post(url, params={"groupId": EMPTY}, json={}).status_code == 400
    removed = admin.delete(url, params={"groupId": EMPTY, "accountId": DAVE})
    assert removed.status_code == 200 and DAVE not in cloud.site.group(EMPTY).members
    not_member = admin.delete(url, params={"groupId": EMPTY, "accountId": DAVE})
    assert not_member.status_code == 400 and "not a member" in not_member.text
    assert admin.delete(url, params={"groupId": EMPTY, "accountId": "f" * 24}).status_code == 404


def test_remove_member_without_account_is_400_and_flagged(cloud, admin):
    response = admin.delete(cloud.url(f"{R}/group/user"), params={"groupId": ENGINEERING})
    assert response.status_code == 400
    expect_request_violation(cloud, "missing required query parameter 'accountId'")


def test_user_search_exact_email_and_display_name_prefix(cloud, admin):
    url = cloud.url(f"{R}/user/search")
    exact = admin.get(url, params={"query": "ALICE@example.com"}).json()
    assert [u["accountId"] for u in exact] == [ALICE]
    prefix = admin.get(url, params={"query": "alice a"}).json()
    assert [u["accountId"] for u in prefix] == [ALICE]
    # user/search answers active accounts only: Bob is inactive, by e-mail or by name
    assert admin.get(url, params={"query": "bob b"}).json() == []
    assert admin.get(url, params={"query": "bob@example.com"}).json() == []
    assert admin.get(url, params={"query": "nobody@example.com"}).json() == []
    hidden = admin.get(url, params={"query": "dave@example.com"}).json()
    assert [u["accountId"] for u in hidden] == [DAVE] and "emailAddress" not in hidden[0]
    assert admin.get(url, params={"query": "dave@"}).json() == []  # no prefix on hidden e-mail
    assert admin.get(url).status_code == 400


def test_user_groups_and_bulk(cloud, admin):
    groups = admin.get(cloud.url(f"{R}/user/groups"), params={"accountId": ALICE}).json()
    assert [g["name"] for g in groups] == ["engineering", "sales"]
    assert admin.get(cloud.url(f"{R}/user/groups"),
                     params={"accountId": "f" * 24}).status_code == 404
    bulk = admin.get(cloud.url(f"{R}/user/bulk"),
                     params=[("accountId", ALICE), ("accountId", DAVE)]).json()
    assert {u["accountId"] for u in bulk["values"]} == {ALICE, DAVE} and bulk["total"] == 2


def test_invite_user_grants_products(cloud, admin):
    created = admin.post(cloud.url(f"{R}/user"),
                         json={"emailAddress": "erin@example.com", "products": ["jira-software"]})
    assert created.status_code == 201 and created.json()["active"] is True
    account_id = created.json()["accountId"]
    assert account_id in cloud.site.group_by_name("jira-software-users").members
    assert account_id not in cloud.site.group_by_name("confluence-users").members
    without = admin.post(cloud.url(f"{R}/user"), json={"emailAddress": "gus@example.com",
                                                       "products": []})
    assert without.status_code == 201 and not cloud.site.has_jira_access(
        without.json()["accountId"])
    bad = admin.post(cloud.url(f"{R}/user"), json={"emailAddress": "not-an-email",
                                                   "products": []})
    assert bad.status_code == 400
    no_products = admin.post(cloud.url(f"{R}/user"), json={"emailAddress": "f@example.com"})
    assert no_products.status_code == 400
    expect_request_violation(cloud, "'products' is a required property")


def test_invite_takes_only_jira_product_keys_the_site_licenses(cloud, admin):
    url = cloud.url(f"{R}/user")
    confluence = admin.post(url, json={"emailAddress": "h@example.com", "products": ["confluence"]})
    assert confluence.status_code == 400 and "jira-core" in confluence.text
    unlicensed = admin.post(url, json={"emailAddress": "h@example.com",
                                       "products": ["jira-servicedesk"]})
    assert unlicensed.status_code == 400 and "no licence" in unlicensed.text
    assert cloud.site.user_by_email("h@example.com") is None


def test_invite_of_an_existing_account(cloud, admin):
    url = cloud.url(f"{R}/user")
    cloud.site.grant_products(ALICE, ["jira-software"])
    with_access = admin.post(url, json={"emailAddress": "alice@example.com", "products": []})
    assert with_access.status_code == 201 and with_access.json()["accountId"] == ALICE
    # Carol has no Jira access: asking for no product is refused, asking for one grants it
    refused = admin.post(url, json={"emailAddress": "carol@example.com", "products": []})
    assert refused.status_code == 400 and "does not have access to Jira" in refused.text
    granted = admin.post(url, json={"emailAddress": "carol@example.com",
                                    "products": ["jira-software"]})
    assert granted.status_code == 201 and cloud.site.has_jira_access(CAROL)


def test_invite_by_a_jira_admin_who_is_not_site_admin_creates_a_suspended_account(cloud):
    jira_admin = cloud.site.user(DAVE)
    cloud.site.add_member(cloud.site.group_by_name("jira-admins").group_id, DAVE)
    session = requests.Session()
    session.auth = (jira_admin.email, jira_admin.api_token)
    created = session.post(cloud.url(f"{R}/user"), json={"emailAddress": "ivy@example.com",
                                                        "products": ["jira-software"]},
                           timeout=5)
    assert created.status_code == 201 and created.json()["active"] is False


def test_licence_exhaustion_on_a_membership_add(cloud, admin):
    users = cloud.site.group_by_name("jira-software-users")
    cloud.site.seats["jira-software-users"] = len(users.members)
    full = admin.post(cloud.url(f"{R}/group/user"), params={"groupId": users.group_id},
                      json={"accountId": ALICE})
    assert full.status_code == 400
    assert full.json()["key"] == "licenceExceeded" and "licensed" in full.json()["context"][
        "message"]
    assert ALICE not in users.members


def test_permissions_check_and_myself(cloud, admin):
    url = cloud.url(f"{R}/permissions/check")
    mine = admin.post(url, json={"globalPermissions": ["ADMINISTER"],
                                 "accountId": cloud.admin_account_id}).json()
    assert mine == {"globalPermissions": ["ADMINISTER"], "projectPermissions": []}
    alice = admin.post(url, json={"globalPermissions": ["ADMINISTER"], "accountId": ALICE})
    assert alice.json()["globalPermissions"] == []
    me = admin.get(cloud.url(f"{R}/myself")).json()
    assert me["accountId"] == cloud.admin_account_id and me["emailAddress"] == cloud.admin_email


def test_big_group_pages_stay_consistent_across_writes():
    with running_site(users=1100, groups=1, memberships=1100) as cloud, requests.Session() as s:
        s.auth = cloud.admin_auth
        group = cloud.site.group_by_name("group-00000")
        url = cloud.url(f"{R}/group/member")
        first = s.get(url, params={"groupId": group.group_id}).json()
        assert first["total"] == 1100
        gone = first["values"][0]["accountId"]
        assert s.delete(cloud.url(f"{R}/group/user"),
                        params={"groupId": group.group_id, "accountId": gone}).ok
        second = s.get(url, params={"groupId": group.group_id}).json()
        assert second["total"] == 1099 and second["values"][0]["accountId"] != gone
        s.post(cloud.url(f"{R}/group/user"), params={"groupId": group.group_id},
               json={"accountId": gone})
        cloud.site.set_suspended(gone, True)
        last = s.get(url, params={"groupId": group.group_id, "startAt": 1050}).json()
        assert last["total"] == 1099 and last["isLast"] is True
        assert gone not in {u["accountId"] for u in last["values"]}


def test_users_search_lists_every_account_in_pages(cloud, admin):
    seen, start = [], 0
    while True:
        page = admin.get(cloud.url(f"{R}/users/search"),
                         params={"startAt": start, "maxResults": 2}).json()
        if not page:
            break
        seen += [u["accountId"] for u in page]
        start += len(page)
    assert len(seen) == len(set(seen)) == len(cloud.site.users)
    assert {ALICE, BOB, CAROL, DAVE} <= set(seen)
    dave = ("dave@example.com", "dave-token")  # not an admin, may still browse users
    assert requests.get(cloud.url(f"{R}/users"), auth=dave, timeout=5).status_code == 200


def test_global_permissions_come_from_the_groups_they_are_granted_to(cloud, admin):
    url = cloud.url(f"{R}/permissions/check")

    def granted(account_id: str, session: requests.Session = admin) -> list[str]:
        answer = session.post(url, json={"accountId": account_id,
                                         "globalPermissions": ["ADMINISTER", "USER_PICKER"]})
        assert answer.status_code == 200, answer.text
        return answer.json()["globalPermissions"]

    assert granted(ALICE) == ["USER_PICKER"]
    cloud.site.grant_global("ADMINISTER", "sales")  # any group, under any name
    assert granted(ALICE) == ["ADMINISTER", "USER_PICKER"]
    cloud.site.grant_global("ADMINISTER", "engineering")
    assert granted(BOB) == []  # deactivated: no permission at all
    with requests.Session() as dave:
        dave.auth = ("dave@example.com", "dave-token")
        assert granted(DAVE, dave) == ["USER_PICKER"]  # one's own: no admin needed
        other = dave.post(url, json={"accountId": ALICE, "globalPermissions": ["ADMINISTER"]})
        assert other.status_code == 403  # another user's need Administer Jira
    cloud.site.delete_group(SALES)
    assert "ADMINISTER" in granted(ALICE)  # still through engineering


def test_permissions_check_refuses_fields_outside_the_schema(cloud, admin):
    answer = admin.post(cloud.url(f"{R}/permissions/check"),
                        json={"accountId": ALICE, "groupId": ENGINEERING})
    assert answer.status_code == 400
    cloud.violations.clear()
