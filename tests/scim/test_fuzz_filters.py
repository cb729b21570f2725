"""Fuzzing the SCIM filter and PATCH-path parsers: every input parses or is a 400, never a crash."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scim import query
from app.scim.errors import ScimError
from app.scim.filters import parse_filter, parse_path
from tests.scim.fuzz import FAST, TEXT, Scim, assert_rfc_answer

ATTRIBUTES = ["userName", "USERNAME", "displayName", "externalId", "active", "id", "emails",
              "emails.value", "emails.type", "emails.primary", "members", "members.value",
              "members.type", "members.display", "meta.created", "meta.lastModified", "title",
              "urn:ietf:params:scim:schemas:core:2.0:User:userName", "name.givenName", "x"]
OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "EQ", "Pr", "xx"]
LITERALS = st.one_of(
    TEXT.map(json.dumps), st.sampled_from(["true", "false", "null", "NaN", "-Infinity", "1e999",
                                           "12", "-0.5", '"2026-01-01T00:00:00Z"',
                                           '"0001-01-01T00:00:00+14:00"', '"\\x"', '"\\u"']),
    st.integers().map(str))
TOKENS = st.one_of(st.sampled_from(ATTRIBUTES), st.sampled_from(OPS), LITERALS,
                   st.sampled_from(["(", ")", "[", "]", "and", "or", "not", "AND", "Not", "."]))
# Token soup hits the parser's error paths; the grammar-shaped ones below reach the compiler.
SOUP = st.lists(TOKENS, max_size=14).map(" ".join)
COMPARISON = st.builds(lambda a, o, v: f"{a} {o} {v}" if o.lower() != "pr" else f"{a} pr",
                       st.sampled_from(ATTRIBUTES), st.sampled_from(OPS), LITERALS)
SHAPED = st.recursive(COMPARISON, lambda inner: st.one_of(
    st.builds(lambda a, b: f"{a} and {b}", inner, inner),
    st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
    st.builds(lambda a: f"not ({a})", inner),
    st.builds(lambda a, b: f"{a}[{b}]", st.sampled_from(["emails", "members", "x"]), inner)),
    max_leaves=8)
FILTERS = st.one_of(TEXT, SOUP, SHAPED,
                    st.integers(1, 1020).map(lambda n: "not " * n + "userName pr"),
                    st.integers(1, 1500).map(lambda n: "(" * n + "userName pr" + ")" * n),
                    st.integers(1, 300).map(lambda n: " and ".join(["id pr"] * n)))


def _refusal(error: ScimError, scim_type: str) -> None:
    assert (error.status, error.scim_type) == (400, scim_type), error.detail


@FAST
@given(text=FILTERS)
def test_the_filter_parser_and_compiler_refuse_with_invalid_filter(text: str) -> None:
    try:
        node = parse_filter(text)
    except ScimError as error:
        _refusal(error, "invalidFilter")
        return
    for scope in (query.USER_SCOPE, query.GROUP_SCOPE):
        try:
            query.compile_filter(node, scope)
        except ScimError as error:
            _refusal(error, "invalidFilter")


@FAST
@given(text=st.one_of(TEXT, FILTERS.map(lambda f: f"members[{f}]"),
                      FILTERS.map(lambda f: f"emails[{f}].value"),
                      st.lists(st.sampled_from(["a", ".", ":", "[", "]", "urn", " "]),
                               max_size=8).map("".join)))
def test_the_patch_path_parser_refuses_with_invalid_path(text: str) -> None:
    try:
        parse_path(text)
    except ScimError as error:
        _refusal(error, "invalidPath")


@pytest.fixture()
def scim(client) -> Scim:
    endpoint = Scim(client)
    assert endpoint("POST", "/Users", {"userName": "fuzz@example.com",
                                       "emails": [{"value": "fuzz@example.com"}]}).status_code == 201
    return endpoint


@settings(FAST, max_examples=50)
@given(text=FILTERS, where=st.sampled_from(["/Users", "/Groups"]),
       extra=st.fixed_dictionaries({}, optional={
           "sortBy": st.sampled_from(["userName", "meta.created", "bad", ""]),
           "startIndex": st.sampled_from(["0", "-1", "99999999999999999999", "x", "1"]),
           "count": st.sampled_from(["0", "-5", "10", "1e3", "99999999999999999999"]),
           "attributes": st.sampled_from(["userName", "emails.value", "a.b.c", ":", ",,"])}))
def test_listing_with_any_filter_answers_200_or_an_rfc_error(scim: Scim, text: str, where: str,
                                                            extra: dict) -> None:
    # A real client sends bytes: a lone surrogate arrives as invalid UTF-8, percent-encoded.
    params = urlencode({"filter": text, **extra}, encoding="utf-8", errors="surrogatepass")
    answer = scim("GET", where, query_string=params)
    assert_rfc_answer(answer, {200, 400})
    search = scim("POST", where + "/.search", {"filter": text, **extra})
    assert_rfc_answer(search, {200, 400})
