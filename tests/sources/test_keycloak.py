"""Keycloak source against the sandbox Keycloak over HTTP."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from sandbox.idps import keycloak as sandbox
from sandbox.idps.directory import Directory
from tests.sources.conftest import (
    TINY_BACKOFF,
    assert_form_metadata,
    assert_matches,
)
from workers.sources.base import secret_fields
from workers.sources.keycloak import KeycloakSettings, KeycloakSource
from workers.sync.model import Snapshot


def make_source(settings: dict, sleeps=None, **extra) -> KeycloakSource:
    loaded = KeycloakSettings().load({**settings, "page_size": 10, **extra})
    return KeycloakSource(loaded, allow_private=True, backoff=TINY_BACKOFF, sleep=sleeps)


@pytest.mark.parametrize("legacy", [False, True], ids=["children-endpoint", "legacy-subGroups"])
def test_full_fetch_over_several_pages(small_directory, legacy):
    with sandbox.serve(small_directory, legacy=legacy) as idp:
        source = make_source(idp.settings)
        snapshot = source.fetch()
        assert_matches(snapshot, small_directory)
        assert any(g.parent_ids for g in snapshot.groups.values())
        assert idp.requests == source.requests


def test_default_page_size_reaches_min_requests():
    directory = Directory.generate(users=1200, groups=30, memberships=300, seed=3)
    with sandbox.serve(directory) as idp:
        loaded = KeycloakSettings().load(idp.settings)
        source = KeycloakSource(loaded, allow_private=True)
        assert_matches(source.fetch(), directory)
        assert idp.requests == sandbox.min_requests(directory)


def test_failing_member_page_keeps_other_groups(small_directory):
    with sandbox.serve(small_directory) as idp:
        idp.fail_page_on(20, times=10, status=500)
        snapshot = make_source(idp.settings, workers=1).fetch()
        assert not snapshot.complete
        assert "members of group" in snapshot.errors[0]
        assert len(snapshot.users) == len(small_directory.people)


def test_wrong_realm_is_explained(small_directory):
    with sandbox.serve(small_directory) as idp:
        check = make_source({**idp.settings, "realm": "other"}).test_connection()
        assert (check.ok, check.reason) == (False, "not_found")
        assert "no realm 'other'" in check.message


def test_missing_role_is_explained(small_directory):
    with sandbox.serve(small_directory, roles=()) as idp:
        check = make_source(idp.settings).test_connection()
        assert (check.ok, check.reason) == (False, "permission")
        assert "lack a permission" in check.message


def test_private_address_refused_unless_allowed(small_directory):
    with sandbox.serve(small_directory) as idp:
        source = KeycloakSource(KeycloakSettings().load(idp.settings), allow_private=False)
        check = source.test_connection()
        assert (check.ok, check.reason) == (False, "config")


def test_incremental_from_admin_events(small_directory):
    with sandbox.serve(small_directory) as idp:
        state = idp.extra["state"]
        source = make_source(idp.settings, use_admin_events=True)
        first = source.fetch()
        assert first.cursor is not None
        team = small_directory.team_list()[0]
        newcomer = small_directory.add_person("newcomer")
        state.record("CREATE", "USER", f"users/{newcomer.id}")
        team.member_ids.append(newcomer.id)
        state.record("CREATE", "GROUP_MEMBERSHIP", f"users/{newcomer.id}/groups/{team.id}")
        gone = team.member_ids.pop(0)
        state.record("DELETE", "GROUP_MEMBERSHIP", f"users/{gone}/groups/{team.id}")
        child = small_directory.add_team("late-child", parent_id=team.id)
        state.record("CREATE", "GROUP", f"groups/{team.id}/children")
        leaver = small_directory.person_list()[0]
        del small_directory.people[leaver.id]
        state.record("DELETE", "USER", f"users/{leaver.id}")
        idp.reset()
        second = source.fetch_changes(first, first.cursor)
        assert second.cursor != first.cursor
        assert_matches(second, small_directory)
        assert second.groups[child.id].parent_ids == (team.id,)
        assert idp.requests < 15  # far fewer than a full read


def test_settings_schema_flags_secret_and_validates():
    assert secret_fields(KeycloakSettings) == ["client_secret"]
    with pytest.raises(ValidationError) as err:
        KeycloakSettings().load({"base_url": "not a url", "realm": ""})
    assert {"base_url", "realm", "client_id", "client_secret"} <= set(err.value.messages)
    assert_form_metadata(KeycloakSettings)


def test_change_read_without_new_events_is_two_requests(small_directory):
    with sandbox.serve(small_directory) as idp:
        state = idp.extra["state"]
        state.record("UPDATE", "USER", f"users/{small_directory.person_list()[0].id}")
        source = make_source(idp.settings, use_admin_events=True)
        first = source.fetch()
        idp.reset()
        pending = source.read_changes(first.cursor)
        assert pending is not None and pending.empty and pending.cursor == first.cursor
        assert idp.requests == 2  # events/config and the newest page of events


def test_a_gap_in_the_event_log_is_a_full_read(small_directory):
    with sandbox.serve(small_directory) as idp:
        state = idp.extra["state"]
        state.record("UPDATE", "USER", f"users/{small_directory.person_list()[0].id}")
        source = make_source(idp.settings, use_admin_events=True)
        first = source.fetch()
        state.events.clear()  # expired or cleared: what happened since cannot be known
        newcomer = small_directory.add_person("late")
        state.record("CREATE", "USER", f"users/{newcomer.id}")
        full = source.fetch_changes(first, first.cursor)
        assert not full.incremental and newcomer.id in full.users
        assert_matches(full, small_directory)


def test_admin_events_not_saved_means_no_cursor_and_a_clear_check(small_directory):
    with sandbox.serve(small_directory, admin_events=False) as idp:
        source = make_source(idp.settings, use_admin_events=True)
        check = source.test_connection()
        assert (check.ok, check.reason) == (False, "config")
        assert "Save events" in check.message
        assert source.fetch().cursor is None
        assert make_source(idp.settings).test_connection().ok  # full reads need no events
        pending = source.read_changes("1700000000000")
        assert pending is not None and not pending.empty
        assert not pending.apply(Snapshot()).incremental
