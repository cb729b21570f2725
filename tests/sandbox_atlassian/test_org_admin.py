"""Organization admin API: suspend, restore and remove access with an org API key."""

from __future__ import annotations

import requests

from .conftest import ALICE, ENGINEERING


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
