"""The generic SCIM 2.0 pull source against the sandbox SCIM server over HTTP."""

from __future__ import annotations

import time

import pytest
from marshmallow import ValidationError

from sandbox.idps import scim as sandbox
from sandbox.idps.directory import Directory
from tests.sources.conftest import (
    TINY_BACKOFF,
    assert_matches,
)
from workers.sources.base import SourceConfigError, secret_fields
from workers.sources.scim_pull import ScimPullSettingsSchema, ScimPullSource


def make_source(settings: dict, sleeps=None, **extra) -> ScimPullSource:
    return ScimPullSource({**settings, "page_size": 10, **extra}, allow_private=True,
                          backoff=TINY_BACKOFF, sleep=sleeps)


def test_server_caps_page_size_below_what_we_ask(small_directory):
    with sandbox.serve(small_directory, max_page=7) as idp:
        assert_matches(make_source(idp.settings, page_size=50).fetch(), small_directory)


def test_default_page_size_reaches_min_requests():
    directory = Directory.generate(users=2300, groups=40, memberships=400, seed=3)
    with sandbox.serve(directory) as idp:
        source = ScimPullSource(idp.settings, allow_private=True)
        assert_matches(source.fetch(), directory)
        assert idp.requests == sandbox.min_requests(directory)


@pytest.mark.parametrize("mode", ["when_asked", "never"])
def test_members_asked_for_when_lists_leave_them_out(small_directory, mode):
    with sandbox.serve(small_directory, members_in_list=mode) as idp:
        source = make_source(idp.settings)
        assert_matches(source.fetch(), small_directory)
        extra = len(small_directory.teams) if mode == "never" else 0
        assert source.requests == 9 + extra  # ServiceProviderConfig, 6 user pages, 2 group pages


@pytest.mark.parametrize("expire_on", [2, 3, 5])
def test_oauth_client_credentials_and_token_expiry_mid_fetch(small_directory, expire_on):
    # 2 is the very first data request, racing with the second listing's first request
    with sandbox.serve(small_directory, auth="oauth") as idp:
        idp.expire_tokens_on(expire_on)
        source = make_source(idp.settings)
        assert_matches(source.fetch(), small_directory)
        assert idp.tokens.issued == 2


def test_incremental_reads_changes_and_notices_deletions(small_directory):
    with sandbox.serve(small_directory) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        assert first.cursor
        people = small_directory.person_list()
        changed, deleted = people[0], people[1]
        changed.given_name, changed.updated = "Renamed", time.time()
        del small_directory.people[deleted.id]
        team = small_directory.team_list()[0]
        team.member_ids = [m for m in team.member_ids if m != deleted.id] + [changed.id]
        team.updated = time.time()
        for other in small_directory.teams.values():
            other.member_ids = [m for m in other.member_ids if m != deleted.id]
        idp.reset()
        second = source.fetch_changes(first, first.cursor)
        assert_matches(second, small_directory)
        assert second.users[changed.id].display_name.startswith("Renamed")
        assert second.cursor > first.cursor
        assert deleted.id in first.users  # the previous snapshot is left alone


def test_incremental_without_filter_support_reads_everything(small_directory):
    with sandbox.serve(small_directory, filtering=False) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        small_directory.person_list()[0].active = False
        second = source.fetch_changes(first, first.cursor or "1970-01-01T00:00:00Z")
        assert_matches(second, small_directory)


def test_connection_ok_and_counts(small_directory):
    with sandbox.serve(small_directory) as idp:
        check = make_source(idp.settings).test_connection()
        assert check.ok and "57 users" in check.message


def test_wrong_client_secret_is_a_clear_auth_failure(small_directory):
    with sandbox.serve(small_directory, auth="oauth") as idp:
        check = make_source(idp.settings, client_secret="nope").test_connection()
        assert not check.ok and check.reason == "auth"
        assert "usersync" in check.message


def test_wrong_base_path_is_not_found(small_directory):
    with sandbox.serve(small_directory) as idp:
        check = make_source(idp.settings, base_url=idp.url + "/scim").test_connection()
        assert not check.ok and check.reason == "not_found"


def test_private_address_refused_without_operator_permission():
    source = ScimPullSource({"base_url": "https://127.0.0.1/scim/v2", "token": "t"})
    check = source.test_connection()
    assert not check.ok and check.reason == "config"


def test_settings_schema():
    assert all(f.metadata.get("label") and "secret" in f.metadata
               for f in ScimPullSettingsSchema._declared_fields.values())
    assert set(secret_fields(ScimPullSettingsSchema)) == {"token", "client_secret"}
    assert ScimPullSettingsSchema().load({"base_url": "https://x.example/scim/v2",
                                          "token": "t"})["page_size"] == 1000
    for bad in ({"base_url": "x"}, {"base_url": "https://x.example"},
                {"base_url": "https://x.example", "auth": "oauth", "client_id": "c"}):
        with pytest.raises(ValidationError):
            ScimPullSettingsSchema().load(bad)
    with pytest.raises(SourceConfigError, match="token"):
        ScimPullSource({"base_url": "https://x.example"}).fetch()


def test_a_deletion_alone_is_seen_by_the_totals(small_directory):
    with sandbox.serve(small_directory) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        gone = small_directory.person_list()[5]
        del small_directory.people[gone.id]  # no filter shows it: only /Users' total moves
        idp.reset()
        pending = source.read_changes(first.cursor)
        assert pending is not None and not pending.empty
        assert idp.requests == 4  # two filtered lists, two totals
        second = pending.apply(first)
        assert_matches(second, small_directory)
        assert gone.id not in second.users and second.incremental
        quiet = source.read_changes(second.cursor)
        assert quiet is not None and quiet.empty


def test_a_server_that_stops_filtering_is_read_in_full(small_directory):
    with sandbox.serve(small_directory) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        idp.extra["state"].filtering = False  # now answers 400 invalidFilter
        pending = source.read_changes(first.cursor)
        assert pending is not None and not pending.empty
        full = pending.apply(first)
        assert_matches(full, small_directory)
        assert not full.incremental and full.cursor is None
