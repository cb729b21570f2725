"""Replays Okta's provisioning and Group Push requests and checks what we store."""

from __future__ import annotations

import time
from urllib.parse import quote

from sqlalchemy import select

from app.extensions import db
from app.models.scim import ScimUser
from tests.scim.conftest import ScimClient, patch_body
from workers.sources.scim_push import ScimPushSource

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def okta_user(login: str, given: str = "Test", family: str = "User") -> dict:
    return {"schemas": [USER], "userName": login, "name": {"givenName": given,
                                                            "familyName": family},
            "emails": [{"primary": True, "value": login, "type": "work"}],
            "displayName": f"{given} {family}", "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7", "groups": [], "password": "1mz050nq",
            "active": True}


def lookup(scim: ScimClient, login: str) -> dict:
    filter_text = quote(f'userName eq "{login}"')
    response = scim.get(f"/Users?filter={filter_text}&startIndex=1&count=100")
    assert response.status_code == 200
    return response.json()


def test_user_lifecycle(scim: ScimClient) -> None:
    assert lookup(scim, "test.user@okta.local")["totalResults"] == 0
    created = scim.post("/Users", okta_user("test.user@okta.local"))
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert "password" not in created.json()
    duplicate = scim.post("/Users", okta_user("test.user@okta.local"))
    assert duplicate.status_code == 409 and duplicate.json()["scimType"] == "uniqueness"
    # Okta's conformance run looks users up with a differently-cased userName.
    assert lookup(scim, "TEST.USER@OKTA.LOCAL")["Resources"][0]["id"] == user_id
    missing = scim.get("/Users/010101")
    assert missing.status_code == 404 and missing.json()["status"] == "404"

    put = scim.put(f"/Users/{user_id}", {**okta_user("test.user@okta.local", "Tess", "Ter"),
                                         "id": user_id})
    assert put.status_code == 200 and put.json()["name"]["givenName"] == "Tess"
    off = scim.patch(f"/Users/{user_id}", patch_body({"op": "replace",
                                                      "value": {"active": False}}))
    assert off.status_code == 200 and off.json()["active"] is False
    seen = ScimPushSource({"connection_id": scim.connection_id}).fetch().users[user_id]
    assert (seen.active, seen.display_name, seen.email) == (False, "Tess Ter",
                                                            "test.user@okta.local")
    scim.patch(f"/Users/{user_id}", patch_body({"op": "replace", "value": {"active": True}}))
    assert scim.get(f"/Users/{user_id}").json()["active"] is True
    with db.session() as session:
        document = session.scalar(select(ScimUser.document).where(ScimUser.scim_id == user_id))
    assert "password" not in document  # never stored


def test_group_push_with_rename_and_membership(scim: ScimClient) -> None:
    ids = [scim.post("/Users", okta_user(f"user{n}@okta.local")).json()["id"] for n in range(4)]
    created = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Test SCIMv2",
                                    "members": []})
    assert created.status_code == 201
    group_id = created.json()["id"]

    # Okta renames with the id echoed inside a path-less replace, then changes members.
    renamed = scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "replace", "value": {"id": group_id, "displayName": "Test SCIMv2 renamed"}},
        {"op": "add", "path": "members", "value": [
            {"value": ids[0], "display": "user0@okta.local"},
            {"value": ids[1], "display": "user1@okta.local"}]}))
    assert renamed.status_code in (200, 204)
    scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
        {"op": "add", "path": "members", "value": [{"value": ids[2]}]}))
    group = scim.get(f"/Groups/{group_id}").json()
    assert group["displayName"] == "Test SCIMv2 renamed"
    assert {m["value"] for m in group["members"]} == {ids[1], ids[2]}

    scim.patch(f"/Groups/{group_id}", patch_body(
        {"op": "replace", "path": "members", "value": [{"value": ids[3]}, {"value": ids[0]}]}))
    snap = ScimPushSource({"connection_id": scim.connection_id}).fetch()
    assert snap.members[group_id] == {ids[3], ids[0]}
    assert snap.groups[group_id].name == "Test SCIMv2 renamed"

    started = time.perf_counter()
    listed = scim.get("/Groups?count=100")
    assert listed.status_code == 200 and time.perf_counter() - started < 0.6
    assert listed.json()["totalResults"] == 1

    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    assert scim.get(f"/Groups/{group_id}").status_code == 404
    assert ScimPushSource({"connection_id": scim.connection_id}).fetch().groups == {}
