"""Organization admin API: suspend, restore and remove access with an org API key."""

from __future__ import annotations

import requests

from .conftest import ALICE, BOB, DAVE, ENGINEERING


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
