"""Users and Groups over HTTP: CRUD, errors in the RFC 7644 shape, ETags, limits, isolation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from app.scim.http import MAX_BODY
from tests.scim.conftest import ScimClient, connect_client, group_body, patch_body, user_body

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def assert_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]
    if scim_type:
        assert body["scimType"] == scim_type
    return body


def test_user_lifecycle_with_enterprise_extension(scim: ScimClient) -> None:
    created = scim.post("/Users", user_body(
        "ada@example.com", externalId="ext-1", displayName="Ada",
        **{ENTERPRISE: {"employeeNumber": "701", "manager": {"value": "boss"}}}))
    assert created.status_code == 201
    assert created.headers["Content-Type"].startswith("application/scim+json")
    user = created.json()
    assert created.headers["Location"] == user["meta"]["location"]
    assert user["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]
    assert user[ENTERPRISE] == {"employeeNumber": "701", "manager": {"value": "boss"}}
    fetched = scim.get(f"/Users/{user['id']}").json()
    assert fetched == user
    replaced = scim.put(f"/Users/{user['id']}", user_body("ada@example.com", active=False))
    assert replaced.status_code == 200
    assert replaced.json()["active"] is False and "externalId" not in replaced.json()
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert_error(scim.get(f"/Users/{user['id']}"), 404)


def test_user_name_is_unique_per_connection_case_insensitively(scim: ScimClient, live) -> None:
    assert scim.post("/Users", user_body("Grace@Example.com")).status_code == 201
    assert_error(scim.post("/Users", user_body("grace@example.COM")), 409, "uniqueness")
    other = scim.post("/Users", user_body("other@example.com")).json()
    clash = scim.patch(f"/Users/{other['id']}", patch_body(
        {"op": "replace", "path": "userName", "value": "GRACE@example.com"}))
    assert_error(clash, 409, "uniqueness")
    # Another connection has its own namespace.
    assert connect_client(live).post("/Users", user_body("grace@example.com")).status_code == 201


def test_connections_never_see_each_other(scim: ScimClient, live) -> None:
    user = scim.post("/Users", user_body("mine@example.com")).json()
    stranger = connect_client(live)
    assert_error(stranger.get(f"/Users/{user['id']}"), 404)
    assert stranger.get("/Users").json()["totalResults"] == 0
    group = stranger.post("/Groups", group_body("theirs")).json()
    assert_error(stranger.patch(f"/Groups/{group['id']}", patch_body(
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]})), 400, "invalidValue")


@pytest.mark.parametrize("raw, scim_type", [
    (b"{not json", "invalidSyntax"), (b"\xff\xfe", "invalidSyntax"),
    (b'["a list"]', "invalidValue"), (b'{"userName": 5.5e400}', "invalidValue"),
    (b'{"userName": NaN}', "invalidSyntax"), (b"[" * 100000, "invalidSyntax"),
])
def test_malformed_bodies_are_400_never_500(scim: ScimClient, raw: bytes, scim_type) -> None:
    response = scim.http.post(scim.base_url + "/Users", data=raw,
                              headers={"Content-Type": "application/scim+json"})
    assert_error(response, 400, scim_type)


def test_invalid_values_are_explained(scim: ScimClient) -> None:
    assert_error(scim.post("/Users", {"displayName": "no userName"}), 400, "invalidValue")
    assert_error(scim.post("/Users", user_body("x@example.com", active="maybe")), 400,
                 "invalidValue")
    assert_error(scim.post("/Users", user_body("x@example.com", emails="nope")), 400,
                 "invalidValue")
    assert_error(scim.post("/Users", user_body("x" * 300)), 400, "invalidValue")
    assert_error(scim.post("/Groups", {"members": []}), 400, "invalidValue")
    assert_error(scim.post("/Users", user_body("y@example.com", emails=[
        {"value": "y@example.com", "type": "t" * 65}])), 400, "invalidValue")
    assert_error(scim.post("/Users", user_body("İ" * 200)), 400, "invalidValue")


def test_oversized_body_is_413(scim: ScimClient) -> None:
    body = user_body("big@example.com", title="x" * (MAX_BODY + 10))
    assert_error(scim.post("/Users", body), 413)


def test_wrong_content_type_is_415(scim: ScimClient) -> None:
    response = scim.http.post(scim.base_url + "/Users", data="userName=x",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 415)


def test_etags_guard_against_stale_writes(scim: ScimClient) -> None:
    created = scim.post("/Users", user_body("etag@example.com"))
    tag, user_id = created.headers["ETag"], created.json()["id"]
    assert created.json()["meta"]["version"] == tag
    assert scim.get(f"/Users/{user_id}", headers={"If-None-Match": tag}).status_code == 304
    changed = scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "replace", "path": "title", "value": "Dr"}), headers={"If-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    stale = scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "replace", "path": "title", "value": "Prof"}), headers={"If-Match": tag})
    assert_error(stale, 412)
    assert_error(scim.delete(f"/Users/{user_id}", headers={"If-Match": tag}), 412)
    assert scim.get(f"/Users/{user_id}").json()["title"] == "Dr"


def test_group_members_nesting_and_cascade(scim: ScimClient) -> None:
    ada = scim.post("/Users", user_body("ada@example.com")).json()
    bob = scim.post("/Users", user_body("bob@example.com")).json()
    inner = scim.post("/Groups", group_body("inner", [bob["id"]])).json()
    outer = scim.post("/Groups", group_body("outer", [ada["id"], inner["id"]])).json()
    assert {(m["value"], m["type"]) for m in outer["members"]} == {
        (ada["id"], "User"), (inner["id"], "Group")}
    assert_error(scim.patch(f"/Groups/{outer['id']}", patch_body(
        {"op": "add", "path": "members", "value": [{"value": outer["id"]}]})), 400,
        "invalidValue")
    assert scim.delete(f"/Users/{ada['id']}").status_code == 204
    members = scim.get(f"/Groups/{outer['id']}").json()["members"]
    assert [m["value"] for m in members] == [inner["id"]]
    assert scim.delete(f"/Groups/{inner['id']}").status_code == 204
    assert "members" not in scim.get(f"/Groups/{outer['id']}").json()


def test_discovery_is_truthful_and_read_only(scim: ScimClient) -> None:
    config = scim.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] and config["filter"]["supported"]
    assert config["filter"]["maxResults"] == 500 and not config["bulk"]["supported"]
    types = {t["id"]: t for t in scim.get("/ResourceTypes").json()["Resources"]}
    assert types["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    schemas = {s["id"] for s in scim.get("/Schemas").json()["Resources"]}
    assert ENTERPRISE in schemas
    for path in ("/ServiceProviderConfig", "/Schemas", "/ResourceTypes/User"):
        assert_error(scim.post(path, {}), 405)
    assert_error(scim.get("/Nothing/here"), 404)
    assert_error(scim.delete("/Users"), 405)
    assert_error(scim.post("/Groups/some-id", {}), 405)


def test_concurrent_member_adds_are_idempotent_and_each_counted(scim: ScimClient) -> None:
    user = scim.post("/Users", user_body("busy@example.com")).json()
    group = scim.post("/Groups", group_body("busy")).json()
    body = patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]})
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: connect_again(scim).patch(
            f"/Groups/{group['id']}", body).status_code, range(16)))
    assert codes == [204] * 16
    after = scim.get(f"/Groups/{group['id']}").json()
    assert [m["value"] for m in after["members"]] == [user["id"]]
    assert after["meta"]["version"] == 'W/"17"'


def connect_again(scim: ScimClient) -> ScimClient:
    """A second client (own HTTP connection) on the same endpoint and token."""
    return ScimClient(scim.base_url, scim.token, scim.connection_id)
