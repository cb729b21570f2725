"""Fuzzing SCIM PATCH (and whole-resource writes) over HTTP: random operations, paths and values
get a 2xx or an RFC 7644 error, never a 5xx, and what is stored stays readable."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.scim.fuzz import FAST, TEXT, Scim, assert_rfc_answer
from tests.scim.test_fuzz_filters import FILTERS

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_PATHS = ["userName", "displayName", "active", "title", "name", "name.givenName",
              "name.familyName", "name.nope", "emails", 'emails[type eq "work"]',
              'emails[type eq "work"].value', 'emails[value co "@"]', "emails.value",
              'emails[primary eq true].type', "externalId", "phoneNumbers", "addresses",
              'addresses[type eq "work"].locality', "roles", "x509Certificates", "timezone",
              f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:manager", f"{ENTERPRISE}",
              f"{ENTERPRISE}:manager.value", "meta.created", "id", "schemas", "groups",
              "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "nickName.x.y"]
GROUP_PATHS = ["displayName", "externalId", "members", 'members[value eq "nobody"]',
               'members[display co "a"]', 'members[type eq "User"]', 'members[value ne "x"]',
               "members.value", 'members[value eq "a" or value eq "b"]', "id", "meta"]
KEYS = st.one_of(st.sampled_from(USER_PATHS + GROUP_PATHS + ["value", "type", "primary",
                                                            "givenName", "display", "$ref"]),
                 TEXT)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), TEXT,
                    st.sampled_from(["True", "False", "2026-01-01T00:00:00Z", "not-a-date"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)), max_leaves=8)
OPS = st.sampled_from(["add", "replace", "remove", "Add", "Replace", "Remove", "move", "", 7])
# Plausible values reach past validation into the patch engine and the database; ids of the
# fixture's user and group are written "$USER" and "$GROUP" and filled in per example.
MEMBER_IDS = st.one_of(st.sampled_from(["$USER", "$GROUP", "nobody"]), TEXT)
PLAUSIBLE = st.one_of(
    TEXT, st.booleans(), st.sampled_from(["True", "false", "ada@example.com", " Fuzz@Example.com "]),
    st.fixed_dictionaries({}, optional={"givenName": TEXT, "familyName": TEXT, "value": TEXT,
                                        "displayName": TEXT, "active": st.booleans()}),
    st.lists(st.fixed_dictionaries({"value": MEMBER_IDS}, optional={
        "type": st.sampled_from(["work", "home", "User", ""]), "primary": st.booleans(),
        "display": TEXT, "$ref": st.none()}), max_size=3))


def _plausible(paths: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    with_path = st.fixed_dictionaries({
        "op": st.sampled_from(["add", "replace", "remove", "Replace", "Remove"]),
        "path": st.sampled_from(paths), "value": PLAUSIBLE})
    pathless = st.fixed_dictionaries({
        "op": st.sampled_from(["add", "replace", "Replace"]),
        "value": st.dictionaries(st.sampled_from(paths), PLAUSIBLE, max_size=3)})
    return st.one_of(with_path, pathless)


def _paths(known: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(known), TEXT, st.integers(),
                     FILTERS.map(lambda f: f"members[{f}]"),
                     FILTERS.map(lambda f: f"emails[{f}].value"))


def _operation(paths: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"op": OPS}, optional={"path": paths, "value": VALUES})


def _bodies(known: list[str]) -> st.SearchStrategy[Any]:
    operations = st.lists(_operation(_paths(known)), min_size=1, max_size=4)
    plausible = st.lists(_plausible(known), min_size=1, max_size=4).map(
        lambda ops: {"schemas": [PATCH_OP], "Operations": ops})
    return st.one_of(
        plausible, plausible, plausible,
        st.builds(lambda ops: {"schemas": [PATCH_OP], "Operations": ops}, operations),
        st.builds(lambda ops: {"Operations": ops}, operations),
        st.fixed_dictionaries({}, optional={"schemas": VALUES, "Operations": VALUES}),
        VALUES)


def _with_ids(body: Any, user_id: str, group_id: str) -> Any:
    if isinstance(body, dict):
        return {k: _with_ids(v, user_id, group_id) for k, v in body.items()}
    if isinstance(body, list):
        return [_with_ids(v, user_id, group_id) for v in body]
    return {"$USER": user_id, "$GROUP": group_id}.get(body, body) if isinstance(body, str) \
        else body


RESOURCES = st.one_of(
    st.dictionaries(KEYS, VALUES, max_size=6),
    st.builds(lambda name, rest: {"userName": name, "displayName": name, **rest},
              st.one_of(TEXT, st.sampled_from(["fuzz@example.com", " FUZZ@example.com"])),
              st.dictionaries(st.sampled_from(USER_PATHS + GROUP_PATHS), PLAUSIBLE, max_size=5)))


@pytest.fixture()
def scim(client) -> tuple[Scim, str, str]:
    endpoint = Scim(client)
    user = endpoint("POST", "/Users", {"userName": "fuzz@example.com",
                                       "emails": [{"value": "fuzz@example.com"}]}).get_json()
    group = endpoint("POST", "/Groups", {"displayName": "fuzzers",
                                         "members": [{"value": user["id"]}]}).get_json()
    return endpoint, user["id"], group["id"]


@settings(FAST, max_examples=120)
@given(body=_bodies(USER_PATHS))
def test_patching_a_user_with_anything_is_a_2xx_or_an_rfc_error(scim, body: Any) -> None:
    endpoint, user_id, group_id = scim
    body = _with_ids(body, user_id, group_id)
    assert_rfc_answer(endpoint("PATCH", f"/Users/{user_id}", body), {200, 204, 400, 409})
    assert endpoint("GET", f"/Users/{user_id}").status_code == 200


@settings(FAST, max_examples=120)
@given(body=_bodies(GROUP_PATHS))
def test_patching_a_group_with_anything_is_a_2xx_or_an_rfc_error(scim, body: Any) -> None:
    endpoint, user_id, group_id = scim
    body = _with_ids(body, user_id, group_id)
    assert_rfc_answer(endpoint("PATCH", f"/Groups/{group_id}", body), {200, 204, 400, 409})
    assert endpoint("GET", f"/Groups/{group_id}").status_code == 200


@settings(FAST, max_examples=100)
@given(body=st.one_of(VALUES, RESOURCES, RESOURCES), where=st.sampled_from(["/Users", "/Groups"]))
def test_creating_and_replacing_with_anything_is_a_2xx_or_an_rfc_error(scim, body: Any,
                                                                        where: str) -> None:
    endpoint, user_id, group_id = scim
    body = _with_ids(body, user_id, group_id)
    assert_rfc_answer(endpoint("POST", where, body), {201, 400, 409})
    target = f"/Users/{user_id}" if where == "/Users" else f"/Groups/{group_id}"
    assert_rfc_answer(endpoint("PUT", target, body), {200, 400, 409})
    assert endpoint("GET", target).status_code == 200


@settings(FAST, max_examples=50)
@given(raw=st.one_of(st.binary(max_size=64), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))),
       resource=st.sampled_from(["Users", "Groups"]), method=st.sampled_from(["PATCH", "PUT"]))
def test_a_body_that_is_not_json_is_invalid_syntax(scim, raw: bytes, resource: str,
                                                   method: str) -> None:
    endpoint, user_id, group_id = scim
    target = f"/{resource}/{user_id if resource == 'Users' else group_id}"
    answer = endpoint.flask.open(endpoint.base + target, method=method, data=raw,
                                 headers=endpoint.headers, content_type="application/scim+json")
    assert_rfc_answer(answer, {200, 204, 400, 409})
