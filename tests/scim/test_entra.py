"""Replays Microsoft Entra's provisioning requests (as its SCIM validator sends them) and checks what we store."""

from __future__ import annotations

from urllib.parse import quote

from tests.scim.conftest import ScimClient, patch_body
from workers.sources.scim_push import ScimPushSource

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def entra_user(n: int) -> dict:
    return {"schemas": [USER, ENTERPRISE], "externalId": f"0a21f0f2-8d2a-4f8e-bf98-73{n:010d}",
            "userName": f"Test_User_{n}@contoso.com", "active": True,
            "emails": [{"primary": True, "type": "work", "value": f"Test_User_{n}@testuser.com"}],
            "meta": {"resourceType": "User"}, "roles": [],
            "name": {"formatted": "givenName familyName", "familyName": "familyName",
                     "givenName": "givenName"},
            ENTERPRISE: {"department": "Sales", "employeeNumber": str(1000 + n)}}


def find(scim: ScimClient, resource: str, filter_text: str, extra: str = "") -> dict:
    response = scim.get(f"/{resource}?filter={quote(filter_text)}{extra}")
    assert response.status_code == 200, response.text
    return response.json()


def snapshot(scim: ScimClient):
    return ScimPushSource({"connection_id": scim.connection_id}).fetch()


def test_test_connection_probes_random_names(scim: ScimClient) -> None:
    users = find(scim, "Users", 'userName eq "ab6490ee-1e48-479e-a20b-2d77186b5dd1"')
    assert users["totalResults"] == 0 and users["Resources"] == []
    groups = find(scim, "Groups", 'displayName eq "a9b1c-random"', "&excludedAttributes=members")
    assert groups["totalResults"] == 0
    assert scim.get("/Users/0000-not-there").status_code == 404


def test_user_provisioning_old_and_new_patch_shapes(scim: ScimClient) -> None:
    assert find(scim, "Users", 'userName eq "Test_User_1@contoso.com"')["totalResults"] == 0
    created = scim.post("/Users", entra_user(1))
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert find(scim, "Users", f'externalId eq "{entra_user(1)["externalId"]}"')[
        "Resources"][0]["id"] == user_id
    assert scim.post("/Users", entra_user(1)).status_code == 409

    # Multi-valued and single-valued updates, capitalised ops.
    updated = scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updated@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "a-manager-id"}))
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["emails"] == [{"primary": True, "type": "work", "value": "updated@contoso.com"}]
    assert body["name"]["familyName"] == "updatedFamilyName"
    assert body[ENTERPRISE]["manager"] == {"value": "a-manager-id"}

    # Newer tenants: one path-less replace whose keys are attribute paths.
    newer = scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "value": {
        "displayName": "Updated Name", "name.givenName": "Updated",
        f"{ENTERPRISE}:employeeNumber": "2001", "userName": "renamed@contoso.com"}}))
    assert newer.status_code == 200, newer.text
    state = scim.get(f"/Users/{user_id}").json()
    assert (state["displayName"], state["name"]["givenName"], state["userName"]) == (
        "Updated Name", "Updated", "renamed@contoso.com")
    assert state[ENTERPRISE] == {"department": "Sales", "employeeNumber": "2001",
                                 "manager": {"value": "a-manager-id"}}

    # Disable: older tenants send the string "False", newer the boolean.
    scim.patch(f"/Users/{user_id}", patch_body({"op": "Replace", "path": "active",
                                                "value": "False"}))
    assert snapshot(scim).users[user_id].active is False
    scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "path": "active", "value": True}))
    scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "path": "active", "value": False}))
    seen = snapshot(scim).users[user_id]
    assert (seen.active, seen.email, seen.display_name) == (
        False, "updated@contoso.com", "Updated Name")

    assert scim.delete(f"/Users/{user_id}").status_code == 204
    assert scim.get(f"/Users/{user_id}").status_code == 404


def test_group_provisioning_and_membership_changes(scim: ScimClient) -> None:
    ids = [scim.post("/Users", entra_user(n)).json()["id"] for n in range(3)]
    created = scim.post("/Groups", {"schemas": [GROUP, MS_GROUP], "externalId": "8aa1a0c0-c4c3",
                                    "displayName": "Group_8aa1a0c0", "meta": {"resourceType":
                                                                              "Group"}})
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    found = find(scim, "Groups", 'displayName eq "Group_8aa1a0c0"', "&excludedAttributes=members")
    assert [g["id"] for g in found["Resources"]] == [group_id]
    assert "members" not in scim.get(f"/Groups/{group_id}?excludedAttributes=members").json()

    added = scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]}))
    assert added.status_code == 204 and added.text == ""
    assert snapshot(scim).members[group_id] == set(ids)

    # Older removal shape, then the newer value-path shape.
    scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": ids[0]}]}))
    scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "remove", "path": f'members[value eq "{ids[1]}"]'}))
    assert snapshot(scim).members[group_id] == {ids[2]}

    renamed = scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "Replace", "path": "displayName", "value": "Group_8aa1a0c0-New"}))
    assert renamed.status_code == 204
    assert snapshot(scim).groups[group_id].name == "Group_8aa1a0c0-New"
    assert find(scim, "Groups", f'id eq "{group_id}" and members[value eq "{ids[2]}"]',
                "&excludedAttributes=members")["totalResults"] == 1

    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    assert group_id not in snapshot(scim).groups
