"""SCIM hardening: disabled tenants are refused, selector PATCHes are bounded, parser limits hold,
userName uniqueness survives Unicode tricks."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import Connection, Installation
from app.models.installation import InstallationState, utcnow
from app.models.scim import ScimGroup, ScimMember, ScimUser
from app.scim import group_patch, groups
from tests.scim.conftest import add_connection, group_body, issue_token, patch_body, user_body
from workers.queue import empty, queued_jobs

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Client:
    """The Flask test client bound to one SCIM endpoint and its bearer token."""

    def __init__(self, flask_client: Any, connection_id: int):
        issued = issue_token(connection_id)
        self.flask = flask_client
        self.base = issued.base_path
        self.headers = {"Authorization": f"Bearer {issued.secret}"}
        self.connection_id = connection_id

    def __call__(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.flask.open(self.base + path, method=method, json=body, headers=self.headers,
                               content_type="application/scim+json", **kwargs)


@pytest.fixture()
def scim(client) -> Client:
    return Client(client, add_connection())


def scim_error(response: Any, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def stored(connection_id: int) -> tuple[int, int]:
    with db.session() as session:
        return (session.scalar(select(func.count()).select_from(ScimUser)
                               .where(ScimUser.connection_id == connection_id)),
                session.scalar(select(func.count()).select_from(ScimGroup)
                               .where(ScimGroup.connection_id == connection_id)))


# ---- High 1: a disabled connection or a site that is not enabled is refused -------------------

def _disable_connection(connection_id: int) -> None:
    with db.session() as session:
        session.get(Connection, connection_id).enabled = False


def _set_site(state: InstallationState):  # type: ignore[no-untyped-def]
    def change(connection_id: int) -> None:
        with db.session() as session:
            connection = session.get(Connection, connection_id)
            session.get(Installation, connection.installation_id).state = state
    return change


REFUSALS = [(_disable_connection, 403), (_set_site(InstallationState.DISABLED), 403),
            (_set_site(InstallationState.UNINSTALLED), 404)]


def _queued(redis_client: Redis, connection_id: int) -> list:
    return [job for job in queued_jobs(redis_client)
            if job.func_name == "workers.jobs.sync_connection" and job.args[0] == connection_id]


@pytest.mark.parametrize(("switch_off", "status"), REFUSALS,
                         ids=["connection-disabled", "site-disabled", "site-uninstalled"])
def test_refused_tenants_store_nothing_and_queue_nothing(scim: Client, redis_url: str,
                                                         switch_off, status: int) -> None:
    redis_client = Redis.from_url(redis_url)
    empty(redis_client)
    user = scim("POST", "/Users", user_body("kept@example.com")).get_json()
    group = scim("POST", "/Groups", group_body("kept", [user["id"]])).get_json()
    empty(redis_client)
    with db.session() as session:
        session.get(Connection, scim.connection_id).pending_changes = False
    switch_off(scim.connection_id)

    writes = [("POST", "/Users", user_body("new@example.com")),
              ("POST", "/Groups", group_body("new")),
              ("PUT", f"/Users/{user['id']}", user_body("renamed@example.com")),
              ("PATCH", f"/Users/{user['id']}",
               patch_body({"op": "replace", "path": "active", "value": False})),
              ("PATCH", f"/Groups/{group['id']}",
               patch_body({"op": "remove", "path": "members"})),
              ("DELETE", f"/Users/{user['id']}", None),
              ("DELETE", f"/Groups/{group['id']}", None)]
    reads = [("GET", "/Users", None), ("GET", f"/Users/{user['id']}", None),
             ("GET", "/Groups", None), ("POST", "/.search", {"filter": "userName pr"}),
             ("GET", "/ServiceProviderConfig", None)]
    for method, path, body in writes + reads:
        answer = scim(method, path, body)
        error = scim_error(answer, status)
        assert "kept" not in answer.get_data(as_text=True), (method, path)
        assert error["detail"]
    assert stored(scim.connection_id) == (1, 1)
    with db.session() as session:
        assert session.get(ScimUser, session.scalar(select(ScimUser.pk))).user_name \
            == "kept@example.com"
        assert session.get(Connection, scim.connection_id).pending_changes is False
    assert _queued(redis_client, scim.connection_id) == []


def test_a_bad_token_is_still_401_for_a_disabled_connection(scim: Client) -> None:
    _disable_connection(scim.connection_id)
    answer = scim.flask.get(scim.base + "/Users", headers={"Authorization": "Bearer wrong"})
    scim_error(answer, 401)


def test_re_enabling_serves_the_endpoint_again(scim: Client) -> None:
    _disable_connection(scim.connection_id)
    scim_error(scim("GET", "/Users"), 403)
    with db.session() as session:
        session.get(Connection, scim.connection_id).enabled = True
    assert scim("GET", "/Users").status_code == 200


# ---- Medium: member selectors run in SQL, and their number per PATCH is bounded ----------------

SIZE = 3000


def big_group(connection_id: int) -> tuple[str, str]:
    """A group of SIZE users u0000… (odd ones displayed "Odd") and one nested group."""
    now = utcnow()
    with db.session() as session:
        session.execute(insert(ScimUser), [
            {"scim_id": f"u{i:04d}", "connection_id": connection_id,
             "user_name": f"user{i}@example.com", "user_name_key": f"user{i}@example.com",
             "display_name": "Odd" if i % 2 else "Even", "active": True,
             "document": {"userName": f"user{i}@example.com"}, "version": 1,
             "created_at": now, "last_modified": now} for i in range(SIZE)])
        group = groups.write(session, groups.new(connection_id), {"displayName": "big"})
        nested = groups.write(session, groups.new(connection_id), {"displayName": "nested"})
        pks = session.scalars(select(ScimUser.pk).where(ScimUser.connection_id == connection_id))
        session.execute(insert(ScimMember), [{"group_pk": group.pk, "user_pk": pk} for pk in pks])
        session.execute(insert(ScimMember), [{"group_pk": group.pk, "child_pk": nested.pk}])
        return group.scim_id, nested.scim_id


def members(group_id: str) -> set[str]:
    with db.session() as session:
        group = session.scalar(select(ScimGroup).where(ScimGroup.scim_id == group_id))
        return {m["value"] for m in groups.members_of(session, [group.pk], "").get(group.pk, [])}


def remove(selector: str) -> dict[str, str]:
    return {"op": "remove", "path": f"members[{selector}]"}


# Each selector with the members it picks, written out in Python to check the SQL against.
SELECTORS = [
    ('value sw "u00"', lambda i: i < 100),
    ('display co "od" and value lt "u1000"', lambda i: i % 2 == 1 and i < 1000),
    ('not (value lt "u2990")', lambda i: i >= 2990),
    ('value ew "8" and display eq "EVEN"', lambda i: i % 10 == 8),
    ('value ne "u1500" and (value gt "u2950" or display pr and value eq "u1400")',
     lambda i: i > 2950 or i == 1400),
    ('value eq "u2000" or value eq "u2001"', lambda i: i in (2000, 2001)),
    *[(f'value sw "u1{k}" and not (display eq "odd")', lambda i, k=k: 1000 + 100 * k <= i
       < 1100 + 100 * k and i % 2 == 0) for k in range(10)],
    ('display co "x"', lambda i: False),
    ('value co "u" and value co "9" and value co "99"', lambda i: "99" in f"{i:04d}"),
    ('display ne "Even" and value le "u0500"', lambda i: i % 2 == 1 and i <= 500),
    ('value ge "u2900" and value lt "u2905"', lambda i: 2900 <= i < 2905),
]


def test_a_large_selector_patch_on_a_3000_member_group_is_fast_and_right(scim: Client) -> None:
    group_id, nested_id = big_group(scim.connection_id)
    operations = [remove(s) for s, _ in SELECTORS] + [remove('type eq "Group"')]
    scanning = sum(1 for op in operations if "value eq" not in op["path"] or " and " in op["path"])
    assert scanning == group_patch.MAX_SCANNING_SELECTORS  # as much as one request may ask
    started = time.perf_counter()
    answer = scim("PATCH", f"/Groups/{group_id}", patch_body(*operations))
    elapsed = time.perf_counter() - started
    assert answer.status_code == 204, answer.get_data(as_text=True)
    kept = {f"u{i:04d}" for i in range(SIZE) if not any(picks(i) for _, picks in SELECTORS)}
    assert members(group_id) == kept
    assert nested_id not in kept
    assert elapsed < 3, f"the PATCH took {elapsed:.2f} s"


def test_too_many_scanning_selectors_are_refused_before_any_change(scim: Client) -> None:
    group_id, _ = big_group(scim.connection_id)
    before = members(group_id)
    operations = [remove(f'value sw "u{i:03d}"')
                  for i in range(group_patch.MAX_SCANNING_SELECTORS + 1)]
    started = time.perf_counter()
    answer = scim("PATCH", f"/Groups/{group_id}", patch_body(*operations))
    assert time.perf_counter() - started < 1
    assert "at most" in scim_error(answer, 400, "tooMany")["detail"]
    assert members(group_id) == before


def test_a_thousand_removals_or_adds_by_id_stay_cheap(scim: Client) -> None:
    group_id, _ = big_group(scim.connection_id)
    removals = [remove(f'value eq "u{i:04d}"') for i in range(0, 2000, 2)]
    adds = [{"op": "add", "path": "members", "value": [{"value": f"u{i:04d}"}]}
            for i in range(0, 1000, 2)]
    for operations, left in ((removals, SIZE + 1 - 1000), (adds, SIZE + 1 - 500)):
        started = time.perf_counter()
        answer = scim("PATCH", f"/Groups/{group_id}", patch_body(*operations))
        elapsed = time.perf_counter() - started
        assert answer.status_code == 204
        assert len(members(group_id)) == left
        assert elapsed < 3, f"the PATCH took {elapsed:.2f} s"


def test_batched_member_operations_keep_their_order(scim: Client) -> None:
    ids = [scim("POST", "/Users", user_body(f"o{i}@example.com")).get_json()["id"]
           for i in range(3)]
    group = scim("POST", "/Groups", group_body("order", ids[:2])).get_json()
    add = [{"op": "add", "path": "members", "value": [{"value": i}]} for i in ids]
    answer = scim("PATCH", f"/Groups/{group['id']}", patch_body(
        remove(f'value eq "{ids[0]}"'), add[0],            # removed, then back
        add[2], remove(f'value eq "{ids[2]}"'),            # added, then gone
        remove(f'value eq "{ids[1]}"'), remove('type eq "User"'), add[1]))
    assert answer.status_code == 204
    assert members(group["id"]) == {ids[1]}


@pytest.mark.parametrize("selector", ['$ref eq "x"', 'value eq "a" or name pr', 'value gt 3'])
def test_selectors_we_cannot_evaluate_are_invalid_path(scim: Client, selector: str) -> None:
    group = scim("POST", "/Groups", group_body("g")).get_json()
    answer = scim("PATCH", f"/Groups/{group['id']}", patch_body(remove(selector)))
    scim_error(answer, 400, "invalidPath")


# ---- Low: userName uniqueness after Unicode normalisation -------------------------------------

@pytest.mark.parametrize(("first", "second"), [
    ("Bob", " bob "), ("Bob", "BOB"), ("Bob", "bo\u0062"), ("bob", "\tBob\u00a0"),
    ("José@example.com", "Jose\u0301@example.com"), ("Straße", "STRASSE"),
    ("\u212aelvin", "kelvin"),  # the Kelvin sign folds to k
])
def test_look_alike_user_names_collide(scim: Client, first: str, second: str) -> None:
    created = scim("POST", "/Users", user_body(first))
    assert created.status_code == 201, created.get_data(as_text=True)
    scim_error(scim("POST", "/Users", user_body(second)), 409, "uniqueness")
    other = scim("POST", "/Users", user_body("someone.else")).get_json()
    scim_error(scim("PUT", f"/Users/{other['id']}", user_body(second)), 409, "uniqueness")
    assert stored(scim.connection_id) == (2, 0)
    found = scim("GET", "/Users", query_string={"filter": f"userName eq {json.dumps(second)}"}).get_json()
    assert [u["userName"] for u in found["Resources"]] == [first]


def test_a_user_may_change_only_the_spelling_of_its_own_name(scim: Client) -> None:
    user = scim("POST", "/Users", user_body("Bob")).get_json()
    renamed = scim("PUT", f"/Users/{user['id']}", user_body(" BOB "))
    assert renamed.status_code == 200 and renamed.get_json()["userName"] == " BOB "


# ---- Low: parser limits; what fuzzing found -----------------------------------------------------

NOTS = "not " * 1000


@pytest.mark.parametrize("text", [NOTS + "userName pr", "(" * 1500 + "userName pr" + ")" * 1500,
                                  " or ".join(['userName eq "a"'] * 101), 'userName eq "\\x"',
                                  'userName eq "\\u0000"', 'userName eq "\\ud800"',
                                  'meta.created gt "0001-01-01T00:00:00+14:00"'])
def test_filters_past_the_limits_are_invalid_filter(scim: Client, text: str) -> None:
    for where in ("/Users", "/Groups"):
        scim_error(scim("GET", where, query_string={"filter": text}), 400, "invalidFilter")
    scim_error(scim("POST", "/.search", {"filter": text}), 400, "invalidFilter")


@pytest.mark.parametrize("path", [f"members[{NOTS}value pr]", 'members[value eq "\\q"]',
                                  'members[value eq "a" ) ]', "[value pr]",
                                  f'emails[{NOTS}type eq "work"].value'])
def test_patch_paths_past_the_limits_are_invalid_path(scim: Client, path: str) -> None:
    user = scim("POST", "/Users", user_body("path@example.com")).get_json()
    group = scim("POST", "/Groups", group_body("paths", [user["id"]])).get_json()
    for target in (f"/Users/{user['id']}", f"/Groups/{group['id']}"):
        answer = scim("PATCH", target, patch_body({"op": "remove", "path": path}))
        scim_error(answer, 400, "invalidPath")
    assert members(group["id"]) == {user["id"]}


@pytest.mark.parametrize("body", [
    {"schemas": 7, "Operations": [{"op": "add", "path": "title", "value": "x"}]},
    {"schemas": None, "Operations": [{"op": "add", "path": "title", "value": "\u0000"}]},
    {"Operations": [{"op": "add", "path": "title", "value": "\ud800"}]},
])
def test_patch_bodies_found_by_fuzzing_are_400(scim: Client, body: dict) -> None:
    user = scim("POST", "/Users", user_body("fuzzed@example.com")).get_json()
    answer = scim("PATCH", f"/Users/{user['id']}", body)
    assert answer.status_code == 400 and answer.get_json()["schemas"] == [ERROR]


@pytest.mark.parametrize("name", ["nul\u0000@example.com", "\ud800@example.com"])
def test_text_no_database_can_hold_is_invalid_value(scim: Client, name: str) -> None:
    scim_error(scim("POST", "/Users", user_body(name)), 400, "invalidValue")
    scim_error(scim("POST", "/Groups", group_body(name)), 400, "invalidValue")
    scim_error(scim("POST", "/Groups", group_body("g", [name])), 400, "invalidValue")
    assert stored(scim.connection_id) == (0, 0)
