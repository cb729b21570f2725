"""The Oracle identity-domain source against the sandbox identity domain over HTTP."""

from __future__ import annotations

import time

import pytest
from marshmallow import ValidationError

from sandbox.idps import oracle as sandbox
from sandbox.idps.directory import Directory
from tests.sources.conftest import TINY_BACKOFF
from tests.sources.conftest import assert_matches as shared_assert_matches
from workers.sources.base import secret_fields
from workers.sources.oracle import OracleSettingsSchema, OracleSource


def make_source(settings: dict, sleeps=None, **extra) -> OracleSource:
    return OracleSource({**settings, "page_size": 10, **extra}, allow_private=True,
                        backoff=TINY_BACKOFF, sleep=sleeps)


def assert_matches(snapshot, directory: Directory) -> None:
    shared_assert_matches(snapshot, directory, nested=False)


def test_default_settings_reach_min_requests():
    directory = Directory.generate(users=2100, groups=30, memberships=600, seed=5)
    with sandbox.serve(directory) as idp:
        source = OracleSource(idp.settings, allow_private=True)
        assert_matches(source.fetch(), directory)
        assert idp.requests == sandbox.min_requests(directory)


def test_group_pages_shrink_to_stay_under_the_member_limit():
    # 40 groups of 10 members with a limit of 25 members per answer: at best pages of 2 groups
    directory = Directory.generate(users=40, groups=40, memberships=400, seed=2)
    with sandbox.serve(directory, member_limit=25) as idp:
        source = OracleSource({**idp.settings, "member_page_size": 25}, allow_private=True,
                              backoff=TINY_BACKOFF)
        assert_matches(source.fetch(), directory)
        # refused answers while halving from 1000 (1000, 500, ..., 3), then sized by estimate
        assert source.requests <= sandbox.min_requests(directory, member_limit=25) + 10


def test_group_over_the_member_limit_is_paged():
    directory = Directory.generate(users=60, groups=3, memberships=3, seed=4)
    big = directory.team_list()[1]
    big.member_ids = list(directory.people)  # 60 members, limit 25: three slices
    with sandbox.serve(directory, member_limit=25) as idp:
        source = make_source(idp.settings, member_page_size=25)
        snapshot = source.fetch()
        assert_matches(snapshot, directory)
        assert len(snapshot.members[big.id]) == 60


def test_token_uses_basic_auth_and_oracle_scope_and_is_refreshed(small_directory):
    with sandbox.serve(small_directory) as idp:
        idp.expire_tokens_on(4)
        assert_matches(make_source(idp.settings).fetch(), small_directory)
        assert idp.tokens.issued == 2


def test_incremental_by_last_modified(small_directory):
    with sandbox.serve(small_directory) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        person = small_directory.person_list()[3]
        person.active, person.updated = False, time.time()
        team = small_directory.team_list()[2]
        team.member_ids = team.member_ids[1:]
        team.updated = time.time()
        idp.reset()
        second = source.fetch_changes(first, first.cursor)
        assert_matches(second, small_directory)
        assert second.users[person.id].active is False
        assert first.users[person.id].active is True


def test_missing_app_role_is_a_permission_failure(small_directory):
    with sandbox.serve(small_directory, authorized=False) as idp:
        check = make_source(idp.settings).test_connection()
        assert not check.ok and check.reason == "permission"
        assert "User Administrator" in check.message


def test_settings_schema():
    assert all(f.metadata.get("label") and "secret" in f.metadata
               for f in OracleSettingsSchema._declared_fields.values())
    assert secret_fields(OracleSettingsSchema) == ["client_secret"]
    good = {"domain_url": "https://idcs-1.identity.oraclecloud.com", "client_id": "c",
            "client_secret": "s"}
    assert OracleSettingsSchema().load(good)["member_page_size"] == 10_000
    for bad in ({"domain_url": "idcs"}, {"client_secret": ""}, {"page_size": 5000}):
        with pytest.raises(ValidationError):
            OracleSettingsSchema().load(good | bad)
