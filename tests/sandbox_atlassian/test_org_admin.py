"""Organization admin API: suspend, restore and remove access with an org API key."""

from __future__ import annotations

import requests

from .conftest import ALICE, BOB, CAROL, DAVE, EMPTY, ENGINEERING, SALES


def org_url(cloud, account_id: str, action: str = "") -> str:
    tail = f"/{action}" if action else ""
    return cloud.url(f"/admin/v1/orgs/{cloud.org_id}/directory/users/{account_id}{tail}")


def test_suspend_and_restore_change_activity_but_keep_groups(cloud, admin):
    key = {"Authorization": f"Bearer {cloud.org_api_key}"}
    suspended = requests.post(org_url(cloud, ALICE, "suspend-access"), headers=key, timeout=5)
    assert suspended.status_code == 200 and "message" in suspended.json()
    user = admin.get(cloud.url("/rest/api/3/user"), params={"accountId": ALICE}).json()
    assert user["active"] is False
    members = admin.get(cloud.url("/rest/api/3/group/member"),
                        params={"groupId": ENGINEERING}).json()
    assert ALICE not in {u["accountId"] for u in members["values"]}
    assert ALICE in cloud.site.group(ENGINEERING).members
    restored = requests.post(org_url(cloud, ALICE, "restore-access"), headers=key, timeout=5)
    assert restored.status_code == 200 and cloud.site.user(ALICE).is_active


def test_remove_access_drops_every_group(cloud):
    key = {"Authorization": f"Bearer {cloud.org_api_key}"}
    removed = requests.delete(org_url(cloud, ALICE), headers=key, timeout=5)
    assert removed.status_code == 204
    assert cloud.site.user_groups(ALICE) == [] and not cloud.site.user(ALICE).is_active


def test_org_key_is_required_and_only_works_on_the_admin_api(cloud):
    assert requests.post(org_url(cloud, ALICE, "suspend-access"), timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    assert requests.post(org_url(cloud, ALICE, "suspend-access"), headers=wrong,
                         timeout=5).status_code == 401
    basic = requests.post(org_url(cloud, ALICE, "suspend-access"), auth=cloud.admin_auth,
                          timeout=5)
    assert basic.status_code == 401 and cloud.site.user(ALICE).is_active
    key = {"Authorization": f"Bearer {cloud.org_api_key}"}
    assert requests.get(cloud.url("/rest/api/3/myself"), headers=key,
                        timeout=5).status_code == 401
    unknown_user = requests.post(org_url(cloud, "f" * 24, "suspend-access"), headers=key,
                                 timeout=5)
    assert unknown_user.status_code == 404
    other_org = cloud.url(f"/admin/v1/orgs/other/directory/users/{ALICE}/suspend-access")
    assert requests.post(other_org, headers=key, timeout=5).status_code == 404


def org_v2(cloud, tail: str) -> str:
    return cloud.url(f"/admin/v2/orgs/{cloud.org_id}{tail}")


def test_v2_directories_and_exact_user_search_finds_inactive_and_hidden(cloud):
    key = {"Authorization": f"Bearer {cloud.org_api_key}"}
    dirs = requests.get(org_v2(cloud, "/directories"), headers=key, timeout=5).json()
    (directory,) = dirs["data"]
    url = org_v2(cloud, f"/directories/{directory['directoryId']}/users/search")
    # Bob is inactive (user/search would not find him), Dave hides his e-mail
    found = requests.post(url, headers=key, json={"emails": ["BOB@example.com",
                                                            "dave@example.com"]}, timeout=5)
    assert found.status_code == 200
    by_id = {u["accountId"]: u for u in found.json()["data"]}
    assert set(by_id) == {BOB, DAVE} and by_id[BOB]["accountStatus"] == "inactive"
    assert by_id[DAVE]["email"] == "dave@example.com"
    # exact only: a prefix of an address matches nothing
    none = requests.post(url, headers=key, json={"emails": ["dave@example.co"]}, timeout=5)
    assert none.json()["data"] == []
    both = requests.post(url, headers=key, json={"emails": ["a@b.c"], "searchTerm": "a"},
                         timeout=5)
    assert both.status_code == 400
    assert requests.post(org_v2(cloud, "/directories/nope/users/search"), headers=key,
                         json={}, timeout=5).status_code == 404
    assert requests.post(url, json={}, timeout=5).status_code == 401


def test_v2_suspend_and_restore_in_a_directory(cloud):
    key = {"Authorization": f"Bearer {cloud.org_api_key}"}
    directory = cloud.site.directory_id
    suspend = requests.post(org_v2(cloud, f"/directories/{directory}/users/{ALICE}/suspend"),
                            headers=key, timeout=5)
    assert suspend.status_code == 204 and not cloud.site.user(ALICE).is_active
    search = requests.post(org_v2(cloud, "/directories/-/users/search"), headers=key,
                           json={"accountIds": [ALICE]}, timeout=5).json()
    assert search["data"][0]["membershipStatus"] == "suspended"
    restore = requests.post(org_v2(cloud, f"/directories/{directory}/users/{ALICE}/restore"),
                            headers=key, timeout=5)
    assert restore.status_code == 204 and cloud.site.user(ALICE).is_active
    anywhere = requests.post(org_v2(cloud, f"/directories/-/users/{ALICE}/suspend"),
                             headers=key, timeout=5)
    assert anywhere.status_code == 400
    unknown = requests.post(org_v2(cloud, f"/directories/{directory}/users/{'f' * 24}/suspend"),
                            headers=key, timeout=5)
    assert unknown.status_code == 404


def test_v2_group_search_reports_groups_synced_from_an_idp(cloud, admin):
    cloud.site.group(ENGINEERING).external_synced = True
    key = {"Authorization": f"Bearer {cloud.org_api_key}"}
    url = org_v2(cloud, "/directories/-/groups/search")
    found = requests.post(url, headers=key, json={"groupNames": ["ENGINEERING", "sales"]},
                          timeout=5).json()["data"]
    flags = {g["name"]: (g["externalSynced"], g["managementAccess"]["modifiable"]) for g in found}
    assert flags == {"engineering": (True, False), "sales": (False, True)}
    both = requests.post(url, headers=key, json={"groupNames": ["a"], "groupIds": ["b"]},
                         timeout=5)
    assert both.status_code == 400
    refused = admin.post(cloud.url("/rest/api/3/group/user"), params={"groupId": ENGINEERING},
                         json={"accountId": DAVE})
    assert refused.status_code == 400 and "synced from an identity provider" in refused.text


# -- organization API v2 writes: groups, memberships, invites -------------------------------
def key_of(cloud) -> dict[str, str]:
    return {"Authorization": f"Bearer {cloud.org_api_key}"}


def test_v2_create_group_answers_no_body_and_refuses_a_taken_name(cloud, admin):
    directory = cloud.site.directory_id
    url = org_v2(cloud, f"/directories/{directory}/groups")
    created = requests.post(url, headers=key_of(cloud),
                            json={"name": "platform", "description": "Platform team"}, timeout=5)
    assert created.status_code == 201 and created.content == b""
    # the same group the product APIs see
    jira = admin.get(cloud.url("/rest/api/3/group/bulk"), params={"groupName": "platform"}).json()
    assert [g["name"] for g in jira["values"]] == ["platform"]
    found = requests.post(org_v2(cloud, "/directories/-/groups/search"), headers=key_of(cloud),
                          json={"groupNames": ["platform"]}, timeout=5).json()["data"]
    assert found[0]["id"] == jira["values"][0]["groupId"]
    taken = requests.post(url, headers=key_of(cloud), json={"name": "PLATFORM"}, timeout=5)
    assert taken.status_code == 409 and "already exists" in taken.json()["errors"][0]["detail"]
    for bad in ({}, {"name": ""}, {"name": 5}, {"name": "x" * 256}, {"name": "ok", "x": 1},
                {"name": "ok", "description": 3}):
        answer = requests.post(url, headers=key_of(cloud), json=bad, timeout=5)
        assert answer.status_code == 400, bad
        assert set(answer.json()["errors"][0]) == {"status", "title", "detail"}
    assert requests.post(org_v2(cloud, "/directories/-/groups"), headers=key_of(cloud),
                         json={"name": "any"}, timeout=5).status_code == 400
    assert requests.post(org_v2(cloud, "/directories/nope/groups"), headers=key_of(cloud),
                         json={"name": "any"}, timeout=5).status_code == 404
    assert requests.post(url, json={"name": "nokey"}, timeout=5).status_code == 401
    assert "nokey" not in {g.name for g in cloud.site.sorted_groups()}


def test_v2_memberships_add_and_remove_with_their_refusals(cloud):
    directory = cloud.site.directory_id
    base = org_v2(cloud, f"/directories/{directory}/groups/{SALES}/memberships")
    added = requests.post(base, headers=key_of(cloud), json={"accountId": CAROL}, timeout=5)
    assert added.status_code == 204 and CAROL in cloud.site.group(SALES).members
    again = requests.post(base, headers=key_of(cloud), json={"accountId": CAROL}, timeout=5)
    assert again.status_code == 409 and "already a member" in again.text
    removed = requests.delete(f"{base}/{CAROL}", headers=key_of(cloud), timeout=5)
    assert removed.status_code == 204 and CAROL not in cloud.site.group(SALES).members
    gone = requests.delete(f"{base}/{CAROL}", headers=key_of(cloud), timeout=5)
    assert gone.status_code == 409 and "not a member" in gone.text
    assert requests.post(base, headers=key_of(cloud), json={}, timeout=5).status_code == 400
    assert requests.post(base, headers=key_of(cloud), json=["x"], timeout=5).status_code == 400
    unknown_user = requests.post(base, headers=key_of(cloud), json={"accountId": "f" * 24},
                                 timeout=5)
    assert unknown_user.status_code == 404
    unknown_group = org_v2(cloud, f"/directories/{directory}/groups/{'9' * 8}/memberships")
    assert requests.post(unknown_group, headers=key_of(cloud), json={"accountId": ALICE},
                         timeout=5).status_code == 404
    anywhere = org_v2(cloud, f"/directories/-/groups/{SALES}/memberships")
    assert requests.post(anywhere, headers=key_of(cloud), json={"accountId": DAVE},
                         timeout=5).status_code == 400
    assert DAVE not in cloud.site.group(SALES).members


def test_v2_membership_refuses_synced_groups_and_a_full_licence(cloud):
    directory = cloud.site.directory_id
    cloud.site.group(ENGINEERING).external_synced = True
    synced = org_v2(cloud, f"/directories/{directory}/groups/{ENGINEERING}/memberships")
    refused = requests.post(synced, headers=key_of(cloud), json={"accountId": DAVE}, timeout=5)
    assert refused.status_code == 400 and "synced from an identity provider" in refused.text
    assert requests.delete(f"{synced}/{ALICE}", headers=key_of(cloud),
                           timeout=5).status_code == 400
    assert ALICE in cloud.site.group(ENGINEERING).members
    access = cloud.site.group_by_name("jira-software-users")
    cloud.site.seats["jira-software-users"] = len(access.members)
    full = org_v2(cloud, f"/directories/{directory}/groups/{access.group_id}/memberships")
    over = requests.post(full, headers=key_of(cloud), json={"accountId": DAVE}, timeout=5)
    assert over.status_code == 400 and "user limit" in over.json()["errors"][0]["detail"]
    assert DAVE not in access.members


def test_v2_delete_group(cloud):
    directory = cloud.site.directory_id
    url = org_v2(cloud, f"/directories/{directory}/groups/{EMPTY}")
    assert requests.delete(url, headers=key_of(cloud), timeout=5).status_code == 204
    assert EMPTY not in cloud.site.groups
    assert requests.delete(url, headers=key_of(cloud), timeout=5).status_code == 404
    cloud.site.group(SALES).external_synced = True
    synced = org_v2(cloud, f"/directories/{directory}/groups/{SALES}")
    assert requests.delete(synced, headers=key_of(cloud), timeout=5).status_code == 400


def test_v2_members_of_a_group_are_a_user_search_by_group(cloud):
    url = org_v2(cloud, "/directories/-/users/search")
    found = requests.post(url, headers=key_of(cloud), json={"groupIds": [SALES]},
                          timeout=5).json()["data"]
    assert [u["accountId"] for u in found] == [ALICE]
    both = requests.post(url, headers=key_of(cloud), json={"groupIds": [ENGINEERING],
                                                          "accountIds": [BOB, DAVE]}, timeout=5)
    assert [u["accountId"] for u in both.json()["data"]] == [BOB]
    assert requests.post(url, headers=key_of(cloud), json={"groupIds": ["nope"]},
                         timeout=5).status_code == 404
    assert requests.post(url, headers=key_of(cloud), json={"groupIds": "x"},
                         timeout=5).status_code == 400


def test_v2_invite_creates_or_answers_the_account_and_reports_each_group(cloud):
    url = org_v2(cloud, "/users/invite")
    access = cloud.site.group_by_name("confluence-users")
    cloud.site.seats["confluence-users"] = len(access.members) + 1
    answer = requests.post(url, headers=key_of(cloud), json={
        "emails": ["erin@example.com", "alice@example.com"],
        "additionalGroups": [access.group_id, SALES], "sendNotification": False}, timeout=5)
    assert answer.status_code == 200, answer.text
    erin, alice = answer.json()["data"]
    assert erin["email"] == "erin@example.com" and erin["id"] in cloud.site.users
    assert alice["id"] == ALICE  # an existing account is not created twice
    statuses = [(r["group"], r["status"]) for r in erin["results"][0]["groupAssignmentResult"]]
    assert statuses == [(access.group_id, "INVITED"), (SALES, "INVITED")]
    # the licence had one seat left, Erin took it: Alice's assignment to it reports the limit
    alice_access = alice["results"][0]["groupAssignmentResult"][0]
    assert alice_access["status"] == "ERROR" and "user limit" in alice_access["statusReason"]
    for bad in ({}, {"emails": []}, {"emails": ["not-an-address"]},
                {"emails": ["x@example.com"], "additionalGroups": "g"},
                {"emails": ["x@example.com"], "permissionRules": [{"resource": "r",
                                                                  "role": "boss"}]}):
        assert requests.post(url, headers=key_of(cloud), json=bad, timeout=5).status_code == 400
    assert cloud.site.user_by_email("x@example.com") is None
    cloud.site.org_paid = False
    free = requests.post(url, headers=key_of(cloud), json={"emails": ["y@example.com"]},
                         timeout=5)
    assert free.status_code == 403 and "paid subscription" in free.text
    assert requests.post(cloud.url("/admin/v2/orgs/other/users/invite"), headers=key_of(cloud),
                         json={"emails": ["z@example.com"]}, timeout=5).status_code == 404
