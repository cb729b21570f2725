"""Filters, paging, sorting and attribute selection on /Users and /Groups, run in the database."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from sqlalchemy import event

from app.extensions import db
from tests.scim.conftest import ScimClient, group_body, user_body

PEOPLE = [  # userName, displayName, externalId, active, e-mail type
    ("Alice@Example.com", "Alice Adams", "e-1", True, "work"),
    ("bob@example.com", "Bob Brown", "e-2", False, "home"),
    ("carol@corp.test", "Carol Clark", "e-3", True, "work"),
    ("dave@corp.test", None, None, True, "other"),
    ("eve_100%@corp.test", "Eve Evans", "E-5", False, "work"),
]


@pytest.fixture()
def seeded(scim: ScimClient) -> dict[str, str]:
    ids = {}
    for user_name, display, external, active, kind in PEOPLE:
        body = user_body(user_name, active=active)
        body["emails"] = [{"value": user_name.lower(), "type": kind, "primary": True}]
        if display:
            body["displayName"] = display
        if external:
            body["externalId"] = external
        ids[user_name] = scim.post("/Users", body).json()["id"]
    return ids


def names(scim: ScimClient, filter_text: str) -> set[str]:
    response = scim.get(f"/Users?filter={quote(filter_text)}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totalResults"] == len(body["Resources"])
    return {r["userName"] for r in body["Resources"]}


@pytest.mark.parametrize("filter_text, expected", [
    ('userName eq "alice@example.com"', {"Alice@Example.com"}),
    ('USERNAME Eq "ALICE@EXAMPLE.COM"', {"Alice@Example.com"}),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com"',
     {"bob@example.com"}),
    ('userName ne "bob@example.com"', {"Alice@Example.com", "carol@corp.test",
                                       "dave@corp.test", "eve_100%@corp.test"}),
    ('userName co "CORP"', {"carol@corp.test", "dave@corp.test", "eve_100%@corp.test"}),
    ('userName co "100%"', {"eve_100%@corp.test"}),
    ('userName co "_"', {"eve_100%@corp.test"}),
    ('userName sw "a"', {"Alice@Example.com"}),
    ('userName ew "example.com"', {"Alice@Example.com", "bob@example.com"}),
    ('userName gt "carol"', {"carol@corp.test", "dave@corp.test", "eve_100%@corp.test"}),
    ('userName le "bob@example.com"', {"Alice@Example.com", "bob@example.com"}),
    ('externalId eq "e-1"', {"Alice@Example.com"}),
    ('externalId eq "e-5"', set()),  # externalId is case-exact
    ('displayName eq "carol clark"', {"carol@corp.test"}),
    ('displayName pr', {"Alice@Example.com", "bob@example.com", "carol@corp.test",
                        "eve_100%@corp.test"}),
    ('not (displayName pr)', {"dave@corp.test"}),
    ('not (externalId eq "e-1")', {"bob@example.com", "carol@corp.test", "dave@corp.test",
                                   "eve_100%@corp.test"}),
    ('active eq false', {"bob@example.com", "eve_100%@corp.test"}),
    ('active eq true and userName sw "c"', {"carol@corp.test"}),
    ('(userName sw "a" or userName sw "b") and active eq true', {"Alice@Example.com"}),
    ('emails.value eq "carol@corp.test"', {"carol@corp.test"}),
    ('emails co "EXAMPLE"', {"Alice@Example.com", "bob@example.com"}),
    ('emails[type eq "work" and value ew "corp.test"]', {"carol@corp.test",
                                                         "eve_100%@corp.test"}),
    ('emails[type eq "home"] or displayName sw "Eve"', {"bob@example.com",
                                                        "eve_100%@corp.test"}),
    ('meta.lastModified gt "2000-01-01T00:00:00Z"', {p[0] for p in PEOPLE}),
    ('meta.lastModified lt "2000-01-01T00:00:00Z"', set()),
])
def test_filter_operators(scim: ScimClient, seeded, filter_text: str, expected: set) -> None:
    assert names(scim, filter_text) == expected


@pytest.mark.parametrize("filter_text", [
    'nickName eq "x"', 'active gt true', 'active eq "yes"', 'userName eq true',
    'meta.lastModified gt "not a date"', 'userName eq', 'name[givenName eq "x"]',
])
def test_unsupported_filters_are_400_invalid_filter(scim: ScimClient, filter_text: str) -> None:
    response = scim.get(f"/Users?filter={quote(filter_text)}")
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] == "invalidFilter"


def test_last_modified_moves_with_changes(scim: ScimClient, seeded) -> None:
    mark = max(r["meta"]["lastModified"] for r in scim.get("/Users").json()["Resources"])
    time.sleep(0.01)
    scim.put(f"/Users/{seeded['carol@corp.test']}", user_body("carol@corp.test", title="Dr"))
    assert names(scim, f'meta.lastModified gt "{mark}"') == {"carol@corp.test"}


def test_paging_is_stable_and_complete(scim: ScimClient) -> None:
    ids = [scim.post("/Users", user_body(f"u{i:02d}@example.com")).json()["id"]
           for i in range(23)]
    seen = []
    for start in range(1, 24, 5):
        page = scim.get(f"/Users?startIndex={start}&count=5").json()
        assert page["totalResults"] == 23 and page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"]) <= 5
        seen += [r["id"] for r in page["Resources"]]
    assert seen == ids
    only_total = scim.get("/Users?count=0").json()
    assert only_total["totalResults"] == 23 and only_total["Resources"] == []
    assert scim.get("/Users?startIndex=0&count=2").json()["startIndex"] == 1
    assert scim.get("/Users?startIndex=99").json()["Resources"] == []
    assert len(scim.get("/Users?count=100000").json()["Resources"]) == 23
    assert scim.get("/Users?count=ten").status_code == 400


def test_sorting(scim: ScimClient, seeded) -> None:
    page = scim.get("/Users?sortBy=userName&sortOrder=descending").json()["Resources"]
    assert [r["userName"] for r in page] == sorted((p[0] for p in PEOPLE),
                                                   key=str.lower, reverse=True)
    assert scim.get("/Users?sortBy=nickName").status_code == 400


def test_attributes_and_excluded_attributes(scim: ScimClient, seeded) -> None:
    page = scim.get("/Users?attributes=userName,name.givenName&count=1").json()["Resources"]
    assert set(page[0]) == {"schemas", "id", "meta", "userName", "name"}
    assert page[0]["name"] == {"givenName": "Given"}
    one = scim.get(f"/Users/{seeded['bob@example.com']}?excludedAttributes=emails,name").json()
    assert "emails" not in one and "name" not in one and one["userName"] == "bob@example.com"
    both = scim.get("/Users?attributes=userName&excludedAttributes=name")
    assert both.status_code == 400


def test_group_filters_and_excluded_members(scim: ScimClient, seeded) -> None:
    alice = seeded["Alice@Example.com"]
    scim.post("/Groups", group_body("Engineering", [alice], externalId="g-1"))
    scim.post("/Groups", group_body("Sales"))
    def groups(filter_text: str, extra: str = "") -> dict:
        return scim.get(f"/Groups?filter={quote(filter_text)}{extra}").json()

    found = groups('displayName eq "engineering"', "&excludedAttributes=members")
    assert found["totalResults"] == 1 and "members" not in found["Resources"][0]
    with_member = groups(f'members[value eq "{alice}"]')
    assert [g["displayName"] for g in with_member["Resources"]] == ["Engineering"]
    assert groups(f'members.value eq "{alice}"')["totalResults"] == 1
    none = groups('displayName eq "Nobody"')
    assert none["totalResults"] == 0 and none["Resources"] == []


def test_search_by_post(scim: ScimClient, seeded) -> None:
    found = scim.post("/Users/.search", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName sw "c"', "attributes": ["userName"], "count": 10}).json()
    assert [r["userName"] for r in found["Resources"]] == ["carol@corp.test"]
    everything = scim.post("/.search", {"count": 100}).json()
    assert everything["totalResults"] == len(PEOPLE)


def test_filters_are_compiled_into_sql(scim: ScimClient, seeded) -> None:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert names(scim, 'userName eq "bob@example.com"') == {"bob@example.com"}
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    listing = [s for s in statements if "FROM scim_user" in s and "LIMIT" in s]
    assert listing and "user_name_key =" in listing[0]
