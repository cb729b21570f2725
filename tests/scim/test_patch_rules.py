"""PATCH semantics on documents (pure): paths, value filters, path-less shapes, Entra's strings."""

from __future__ import annotations

import pytest

from app.scim import patch
from app.scim.errors import ScimError
from app.scim.filters import And, Compare, Not, Or, Present, ValuePath, parse_filter, parse_path
from app.scim.resource_types import USER
from app.scim.schemas import ENTERPRISE

BASE = {"userName": "ada@example.com", "active": True,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": True},
                   {"value": "ada@home.example", "type": "home"}]}


def run(*operations: dict, doc: dict | None = None) -> dict:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": list(operations)}
    return patch.apply(USER, doc or BASE, patch.parse_operations(body))


def test_filter_grammar_precedence_and_value_paths() -> None:
    node = parse_filter('userName eq "a" or not (active eq false) and emails[type eq "work" '
                        'and value co "@x"] and title pr')
    assert isinstance(node, Or)
    assert node.left == Compare("username", "eq", "a")
    right = node.right
    assert isinstance(right, And) and isinstance(right.right, Present)
    assert isinstance(right.left, And) and isinstance(right.left.left, Not)
    assert right.left.right == ValuePath("emails", And(Compare("type", "eq", "work"),
                                                       Compare("value", "co", "@x")))


@pytest.mark.parametrize("text", ['userName eq', 'userName xx "a"', '(userName eq "a"',
                                  'userName eq a', 'emails[type eq "w"', 'eq "a"', '"a" eq "b"'])
def test_malformed_filters_are_invalid_filter(text: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_filter(text)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidFilter")


def test_paths_with_urns_sub_attributes_and_filters() -> None:
    assert parse_path("name.givenName").attr == "name"
    assert parse_path("name.givenName").sub == "givenname"
    urn = parse_path(f"{ENTERPRISE}:manager.value")
    assert (urn.attr, urn.sub) == (f"{ENTERPRISE.lower()}:manager", "value")
    member = parse_path('members[value eq "2819c223"]')
    assert member.selector == Compare("value", "eq", "2819c223")
    assert parse_path('emails[type eq "work"].value').sub == "value"


def test_capitalised_ops_and_string_booleans_from_entra() -> None:
    doc = run({"op": "Replace", "path": "active", "value": "False"})
    assert doc["active"] is False
    assert run({"op": "Replace", "path": "active", "value": "True"}, doc=doc)["active"] is True


def test_bad_boolean_is_invalid_value() -> None:
    with pytest.raises(ScimError) as caught:
        run({"op": "replace", "path": "active", "value": "maybe"})
    assert caught.value.scim_type == "invalidValue"


def test_pathless_replace_with_dotted_and_urn_keys() -> None:
    doc = run({"op": "Replace", "value": {
        "name.givenName": "Augusta", "displayName": "Augusta Ada",
        f"{ENTERPRISE}:employeeNumber": "42", "active": False}})
    assert doc["name"] == {"givenName": "Augusta", "familyName": "Lovelace"}
    assert doc[ENTERPRISE] == {"employeeNumber": "42"}
    assert doc["displayName"] == "Augusta Ada" and doc["active"] is False


def test_pathless_replace_with_an_extension_object_merges() -> None:
    doc = run({"op": "add", "value": {ENTERPRISE: {"department": "R&D", "costCenter": "7"}}})
    doc = run({"op": "replace", "value": {ENTERPRISE: {"department": "Ops"}}}, doc=doc)
    assert doc[ENTERPRISE] == {"department": "Ops", "costCenter": "7"}


def test_value_filter_replace_and_create_when_missing() -> None:
    doc = run({"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@new.example"})
    assert doc["emails"][0] == {"value": "a@new.example", "type": "work", "primary": True}
    doc = run({"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1"})
    assert doc["phoneNumbers"] == [{"type": "mobile", "value": "+1"}]


def test_value_filter_removal_keeps_the_rest() -> None:
    doc = run({"op": "remove", "path": 'emails[type eq "home"]'})
    assert [e["type"] for e in doc["emails"]] == ["work"]
    doc = run({"op": "remove", "path": 'emails[type eq "work"].primary'})
    assert "primary" not in doc["emails"][0]


def test_add_appends_without_duplicates_and_complex_add_merges() -> None:
    doc = run({"op": "add", "path": "emails", "value": [
        {"value": "ada@example.com", "type": "work", "primary": True},
        {"value": "third@example.com", "type": "other"}]})
    assert [e["value"] for e in doc["emails"]] == [
        "ada@example.com", "ada@home.example", "third@example.com"]
    doc = run({"op": "add", "path": "name", "value": {"middleName": "King"}})
    assert doc["name"] == {"givenName": "Ada", "familyName": "Lovelace", "middleName": "King"}


def test_remove_without_path_is_no_target() -> None:
    with pytest.raises(ScimError) as caught:
        run({"op": "remove"})
    assert caught.value.scim_type == "noTarget"


def test_unknown_op_and_missing_operations_are_invalid_syntax() -> None:
    for body in ({"Operations": [{"op": "move", "path": "title"}]}, {"Operations": []}, []):
        with pytest.raises(ScimError) as caught:
            patch.parse_operations(body)
        assert caught.value.scim_type == "invalidSyntax"


def test_read_only_and_unknown_attributes_are_ignored() -> None:
    doc = run({"op": "replace", "value": {"id": "other", "meta": {}, "favouriteColour": "red"}})
    assert doc == BASE


def test_the_input_document_is_not_mutated() -> None:
    before = {**BASE, "emails": [dict(e) for e in BASE["emails"]]}
    run({"op": "remove", "path": "emails"}, {"op": "replace", "path": "name.givenName",
                                              "value": "X"})
    assert before == BASE
