"""Okta source against the sandbox Okta org over HTTP (SSWS and OAuth with DPoP)."""

from __future__ import annotations

import time

import pytest
from marshmallow import ValidationError

from sandbox.idps import okta as sandbox
from sandbox.idps.directory import Directory
from tests.sources.conftest import TINY_BACKOFF, assert_form_metadata
from tests.sources.conftest import assert_matches as shared_assert_matches
from workers.sources.base import secret_fields
from workers.sources.okta import OktaSettings, OktaSource


def make_source(settings: dict, sleeps=None, **extra) -> OktaSource:
    loaded = OktaSettings().load({**settings, **extra})
    return OktaSource(loaded, allow_private=True, backoff=TINY_BACKOFF, sleep=sleeps)


@pytest.fixture
def directory() -> Directory:
    """Several 200-user pages and one group over the 1,000-member page."""
    d = Directory.generate(users=650, groups=6, memberships=60, seed=11)
    d.team_list()[0].member_ids = list(d.people)[:1000]
    return d


def assert_matches(snapshot, directory: Directory) -> None:
    shared_assert_matches(snapshot, directory, nested=False, active_only=True)


def test_full_fetch_with_api_token(directory):
    with sandbox.serve(directory) as idp:
        source = make_source(idp.settings)
        assert_matches(source.fetch(), directory)
        assert idp.requests == sandbox.min_requests(directory) == source.requests


@pytest.mark.parametrize("dpop", [True, False], ids=["dpop", "bearer"])
def test_full_fetch_with_service_app(directory, dpop):
    with sandbox.serve(directory, oauth=True, dpop=dpop) as idp:
        source = make_source(idp.settings)
        assert_matches(source.fetch(), directory)
        token_calls = 2 if dpop else 1  # DPoP: the first token call earns the nonce
        assert idp.requests == sandbox.min_requests(directory) + token_calls


def test_waits_for_rate_limit_reset_instead_of_earning_429(directory):
    with sandbox.serve(directory, budget=(3, 1.0)) as idp:
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            time.sleep(seconds)

        source = OktaSource(OktaSettings().load(idp.settings), allow_private=True,
                            backoff=TINY_BACKOFF, sleep=sleep, workers=1)
        snapshot = source.fetch()
        assert_matches(snapshot, directory)
        assert slept and source.requests == sandbox.min_requests(directory)


def test_wrong_private_key_and_missing_scope(directory, rsa_key):
    with sandbox.serve(directory, oauth=True, scopes=("okta.users.read",)) as idp:
        check = make_source({**idp.settings, "private_key": rsa_key}).test_connection()
        assert (check.ok, check.reason) == (False, "auth")
        assert "client_assertion" in check.message
        check = make_source(idp.settings).test_connection()
        assert (check.ok, check.reason) == (False, "permission")
        assert "okta.groups.read" in check.message


def test_incremental_by_last_updated(directory):
    with sandbox.serve(directory) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        now = time.time()
        person = directory.person_list()[3]
        person.family_name, person.updated = "Renamed", now
        leaver = directory.person_list()[4]
        leaver.active, leaver.updated = False, now
        team = directory.team_list()[2]
        team.member_ids.append(person.id)
        team.updated = now
        gone = directory.team_list()[3]
        del directory.teams[gone.id]
        idp.reset()
        second = source.fetch_changes(first, "2000-01-01T00:00:00.000Z")
        assert second.users[person.id].display_name.endswith("Renamed")
        assert second.users[leaver.id].active is False
        assert person.id in second.members[team.id] and gone.id not in second.groups
        assert second.members[directory.team_list()[0].id] == first.members[
            directory.team_list()[0].id]


def test_settings_schema(rsa_key):
    assert set(secret_fields(OktaSettings)) == {"api_token", "private_key"}
    with pytest.raises(ValidationError) as err:
        OktaSettings().load({"org_url": "https://acme.okta.com", "auth_method": "oauth",
                             "client_id": "x", "private_key": "not a key"})
    assert "private_key" in err.value.messages
    with pytest.raises(ValidationError) as err:
        OktaSettings().load({"org_url": "https://acme.okta.com"})
    assert "api_token" in err.value.messages
    assert OktaSettings().load({"org_url": "https://a.okta.com", "auth_method": "oauth",
                                "client_id": "x", "private_key": rsa_key})["dpop"] is True
    assert_form_metadata(OktaSettings)


def test_change_read_sees_a_deleted_group_and_then_nothing(directory):
    with sandbox.serve(directory) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        idp.reset()
        quiet = source.read_changes(first.cursor)
        assert quiet is not None and quiet.empty and idp.requests == 2
        gone = directory.team_list()[4]
        del directory.teams[gone.id]  # a filter never shows it: the group list does
        pending = source.read_changes(quiet.cursor)
        assert pending is not None and not pending.empty
        idp.reset()
        second = pending.apply(first)
        assert gone.id not in second.groups and idp.requests == 0  # no member list re-read
        assert_matches(second, directory)


def test_users_changed_inside_the_clock_margin_are_applied_once(directory):
    with sandbox.serve(directory) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        person = directory.person_list()[7]
        person.family_name, person.updated = "Moved", time.time()
        pending = source.read_changes(first.cursor)
        assert pending is not None and not pending.empty
        second = pending.apply(first)
        assert second.users[person.id].display_name.endswith("Moved")
        # the search still answers with them (their stamp is inside the margin): not news
        again = source.read_changes(second.cursor)
        assert again is not None and again.empty


def test_paging_skips_deprovisioned_people_on_every_page(directory):
    """Every seventh person deprovisioned, page boundaries included: each active one read once."""
    for n, person in enumerate(directory.person_list()):
        person.active = n % 7 != 0
    with sandbox.serve(directory) as idp:
        source = make_source(idp.settings)
        assert_matches(source.fetch(), directory)
        assert idp.requests == sandbox.min_requests(directory)
