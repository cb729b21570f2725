"""Property: any filter compiled to SQL selects exactly the users the filter describes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models.scim import ScimUser
from app.scim import query, users
from app.scim.filters import parse_filter
from app.scim.listing import page
from app.scim.selectors import matches
from tests.scim.conftest import add_connection

WORDS = ["ab", "abc", "b", "ba", "bc", "c", "ca"]
PEOPLE = [(f"{w}{i}", WORDS[(i * 3) % len(WORDS)] if i % 4 else None,
           WORDS[(i * 5) % len(WORDS)] if i % 3 else None, i % 2 == 0)
          for i, w in enumerate(WORDS * 2)]


@pytest.fixture()
def stored(app) -> int:
    connection_id = add_connection()
    with db.session() as session:
        for user_name, display, external, active in PEOPLE:
            doc = {"userName": user_name, "active": active}
            if display:
                doc["displayName"] = display
            if external:
                doc["externalId"] = external
            users.create(session, connection_id, doc)
    return connection_id


def _comparison(attr: str) -> st.SearchStrategy[str]:
    ops = st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
    return st.builds(lambda op, w: f'{attr} {op} "{w}"', ops, st.sampled_from(WORDS))


LEAF = st.one_of(
    _comparison("userName"), _comparison("displayName"), _comparison("externalId"),
    st.sampled_from(["displayName pr", "externalId pr", "active eq true", "active eq false"]))
FILTERS = st.recursive(LEAF, lambda inner: st.one_of(
    st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
    st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
    st.builds(lambda a: f"not ({a})", inner)), max_leaves=6)


def expected(filter_text: str) -> set[str]:
    node = parse_filter(filter_text)
    return {user_name for user_name, display, external, active in PEOPLE
            if matches(node, {"username": user_name, "displayname": display,
                              "externalid": external, "active": active})}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filter_text=FILTERS)
def test_sql_agrees_with_the_filter_semantics(stored: int, filter_text: str) -> None:
    with db.session() as session:
        total, rows = page(session, ScimUser, query.USER_SCOPE, query.USER_SORT, stored,
                           filter_text=filter_text, start=1, count=500)
        found = {row.user_name for row in rows}
    assert total == len(found)
    assert found == expected(filter_text), filter_text
