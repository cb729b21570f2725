"""Google Workspace source against the sandbox Directory API over HTTP."""

from __future__ import annotations

import json
import socket

import pytest
from marshmallow import ValidationError

from sandbox.idps import google as sandbox
from sandbox.idps.directory import Directory
from tests.sources.conftest import (
    TINY_BACKOFF,
    assert_form_metadata,
    assert_matches,
)
from workers.sources import registry
from workers.sources.base import secret_fields
from workers.sources.google import GoogleSettings, GoogleSource


def make_source(settings: dict, sleeps=None, **extra) -> GoogleSource:
    loaded = GoogleSettings().load({**settings, **extra})
    return GoogleSource(loaded, allow_private=True, backoff=TINY_BACKOFF, sleep=sleeps)


@pytest.fixture
def directory() -> Directory:
    """Over 500 users, over 200 groups, one group over 200 members, some nesting."""
    d = Directory.generate(users=1100, groups=230, memberships=2300, seed=13,
                           nested_fraction=0.2)
    d.team_list()[0].member_ids = list(d.people)[:450]
    return d



def test_registered():
    assert registry.get("google") is GoogleSource


def test_full_fetch_over_several_pages(directory):
    with sandbox.serve(directory) as idp:
        source = make_source(idp.settings)
        assert_matches(source.fetch(), directory)
        assert idp.requests == sandbox.min_requests(directory) == source.requests


def test_quota_403_and_429_are_retried(directory, sleeps):
    with sandbox.serve(directory) as idp:
        idp.extra["quota_on"](3)
        idp.rate_limit_on(7, retry_after="4")
        assert_matches(make_source(idp.settings, sleeps).fetch(), directory)
        assert len(sleeps.delays) == 2 and 4.0 in sleeps.delays


def test_expired_token_is_refreshed_mid_fetch(directory):
    with sandbox.serve(directory) as idp:
        idp.expire_tokens_on(4)
        assert_matches(make_source(idp.settings).fetch(), directory)
        assert idp.tokens.issued == 2


def test_failing_member_page_marks_snapshot_incomplete(directory, sleeps):
    with sandbox.serve(directory) as idp:
        idp.fail_page_on(10, times=10)
        snapshot = make_source(idp.settings, sleeps, workers=1).fetch()
        assert not snapshot.complete
        assert "members of group" in snapshot.errors[0]
        assert len(snapshot.users) == len(directory.people)


def test_wrong_key_subject_and_missing_delegation(directory, rsa_key):
    with sandbox.serve(directory, scopes=()) as idp:
        key = json.loads(idp.settings["service_account_key"])
        forged = json.dumps({**key, "private_key": rsa_key})
        check = make_source(idp.settings, service_account_key=forged).test_connection()
        assert (check.ok, check.reason) == (False, "auth")
        assert "Invalid JWT Signature" in check.message
        check = make_source(idp.settings, admin_email="nobody@example.com").test_connection()
        assert (check.ok, check.reason) == (False, "auth")
        assert "nobody@example.com" in check.message
        check = make_source(idp.settings).test_connection()
        assert (check.ok, check.reason) == (False, "permission")
        assert "domain-wide delegation" in check.message


def test_connection_ok_and_unreachable(directory):
    with sandbox.serve(directory) as idp:
        assert make_source(idp.settings).test_connection().ok
        settings = dict(idp.settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check = make_source(settings, token_url=f"http://127.0.0.1:{port}/token").test_connection()
    assert (check.ok, check.reason) == (False, "unreachable")


def test_settings_schema():
    assert secret_fields(GoogleSettings) == ["service_account_key"]
    with pytest.raises(ValidationError) as err:
        GoogleSettings().load({"service_account_key": '{"type": "authorized_user"}',
                               "admin_email": "not-an-email"})
    assert "service-account key" in err.value.messages["service_account_key"][0].lower()
    assert "admin_email" in err.value.messages
    assert_form_metadata(GoogleSettings)
