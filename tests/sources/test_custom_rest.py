"""The configurable custom REST source against the sandbox people API over HTTP."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from sandbox.idps import custom_rest as sandbox
from sandbox.idps.directory import Directory
from tests.sources.conftest import (
    TINY_BACKOFF,
    expected_members,
    expected_parents,
)
from workers.sources import json_path
from workers.sources.base import secret_fields
from workers.sources.custom_rest import CustomRestSource
from workers.sources.custom_rest_records import as_bool
from workers.sources.custom_rest_settings import CustomRestSettingsSchema


def make_source(settings: dict, sleeps=None, **extra) -> CustomRestSource:
    return CustomRestSource({**settings, "page_size": 10, **extra}, allow_private=True,
                            backoff=TINY_BACKOFF, sleep=sleeps)


def assert_matches(snapshot, directory: Directory) -> None:
    assert snapshot.complete, snapshot.errors
    assert set(snapshot.users) == set(directory.people)
    for person in directory.people.values():
        user = snapshot.users[person.id]
        assert (user.email, user.display_name, user.active) == \
            (person.email, person.display_name, person.active)
    assert {g: snapshot.groups[g].parent_ids for g in snapshot.groups} == expected_parents(directory)
    assert {g: snapshot.groups[g].name for g in snapshot.groups} == \
        {t.id: t.name for t in directory.teams.values()}
    assert snapshot.members == expected_members(directory)


@pytest.mark.parametrize("style", sandbox.STYLES)
def test_every_paging_style_reads_everything(small_directory, style):
    small_directory.person_list()[4].active = False  # served as isDisabled: true
    with sandbox.serve(small_directory) as idp:
        source = make_source(sandbox.style_settings(idp.url, style))
        assert_matches(source.fetch(), small_directory)
        assert idp.requests == source.requests == 6 + 2


def test_default_settings_reach_min_requests():
    directory = Directory.generate(users=1000, groups=150, memberships=900, seed=9)
    with sandbox.serve(directory) as idp:
        source = CustomRestSource(idp.settings, allow_private=True)
        assert_matches(source.fetch(), directory)
        assert idp.requests == sandbox.min_requests(directory)


@pytest.mark.parametrize("style", ["v2", "cursor"])
def test_members_from_a_templated_endpoint(small_directory, style):
    with sandbox.serve(small_directory) as idp:
        settings = {**sandbox.style_settings(idp.url, style), "members": "endpoint",
                    "members_path": f"/{style}/teams/{{id}}/people", "group_members_path": ""}
        source = make_source(settings, workers=3)
        assert_matches(source.fetch(), small_directory)
        assert source.requests > 8  # one or more member pages per team


@pytest.mark.parametrize("mode", ["oauth", "basic"])
def test_other_auth_modes(small_directory, mode):
    with sandbox.serve(small_directory) as idp:
        settings = {**idp.settings, **idp.extra[mode], "api_key": ""}
        assert_matches(make_source(settings).fetch(), small_directory)


def test_failing_member_endpoint_marks_incomplete(small_directory, sleeps):
    with sandbox.serve(small_directory) as idp:
        idp.fail_page_on(9, times=10)
        settings = {**idp.settings, "members": "endpoint", "members_path": "/v2/teams/{id}/people",
                    "group_members_path": ""}
        snapshot = make_source(settings, sleeps, workers=1).fetch()
        assert not snapshot.complete and "members of group" in snapshot.errors[0]
        assert len(snapshot.groups) == len(small_directory.teams)


def test_wrong_items_path_is_a_clear_error(small_directory):
    with sandbox.serve(small_directory) as idp:
        check = make_source(idp.settings, items_path="data.records").test_connection()
        assert not check.ok and "'data.records'" in check.message


def test_wrong_endpoint_is_not_found(small_directory):
    with sandbox.serve(small_directory) as idp:
        check = make_source(idp.settings, users_path="/v9/people").test_connection()
        assert not check.ok and check.reason == "not_found"


def test_items_without_id_are_reported_not_crashed(small_directory):
    with sandbox.serve(small_directory) as idp:
        snapshot = make_source(idp.settings, user_id_path="handle.missing").fetch()
        assert snapshot.users == {}
        assert snapshot.errors and "handle.missing" in snapshot.errors[0]


def test_settings_schema():
    assert all(f.metadata.get("label") and "secret" in f.metadata
               for f in CustomRestSettingsSchema._declared_fields.values())
    assert set(secret_fields(CustomRestSettingsSchema)) == {"token", "password", "api_key",
                                                            "client_secret"}
    good = {"base_url": "https://hr.example.com/api", "users_path": "/people",
            "user_id_path": "id", "user_email_path": "emails[0].value"}
    CustomRestSettingsSchema().load(good)
    for bad in ({"user_email_path": "emails[x]"}, {"auth": "bearer"},
                {"paging": "cursor"}, {"groups_path": "/groups", "members": "endpoint",
                                       "members_path": "/groups/members"},
                {"groups_path": "/groups"}, {"paging": "scroll"}):
        with pytest.raises(ValidationError):
            CustomRestSettingsSchema().load(good | bad)


def test_json_path():
    doc = {"data": {"items": [{"emails": [{"value": "a@x"}]}]}, "n": 0}
    assert json_path.get(doc, "data.items[0].emails[0].value") == "a@x"
    assert json_path.get(doc, "data.items[-1].emails[0].value") == "a@x"
    assert json_path.get(doc, "data.items[3]") is None
    assert json_path.get(doc, "n.x") is None
    assert json_path.get(doc, "") is doc
    with pytest.raises(json_path.JsonPathError):
        json_path.parse("data..items")


def test_flags():
    assert [as_bool(v) for v in (True, "yes", 1, "Active")] == [True] * 4
    assert [as_bool(v) for v in (False, "false", 0, "disabled", "")] == [False] * 5
    assert as_bool(None) is True
