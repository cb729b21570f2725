"""Google Workspace source against the sandbox Directory API over HTTP."""

from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError

from sandbox.idps import google as sandbox
from sandbox.idps.directory import Directory
from tests.sources.conftest import (
    TINY_BACKOFF,
    assert_form_metadata,
    assert_matches,
)
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


def test_quota_403_and_429_are_retried(directory, sleeps):
    with sandbox.serve(directory) as idp:
        idp.extra["quota_on"](3)
        idp.rate_limit_on(7, retry_after="4")
        assert_matches(make_source(idp.settings, sleeps).fetch(), directory)
        assert len(sleeps.delays) == 2 and 4.0 in sleeps.delays


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


def test_settings_schema():
    assert secret_fields(GoogleSettings) == ["service_account_key"]
    with pytest.raises(ValidationError) as err:
        GoogleSettings().load({"service_account_key": '{"type": "authorized_user"}',
                               "admin_email": "not-an-email"})
    assert "service-account key" in err.value.messages["service_account_key"][0].lower()
    assert "admin_email" in err.value.messages
    assert_form_metadata(GoogleSettings)
