"""Google Workspace source against the sandbox Directory API over HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from marshmallow import ValidationError

from sandbox.idps import google as sandbox
from sandbox.idps.directory import Directory
from tests.sources.conftest import (
    TINY_BACKOFF,
    assert_form_metadata,
    assert_matches,
)
from workers.sources.base import SourcePermissionError, secret_fields
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


def test_sync_asks_only_directory_scopes_and_reports_client_only_the_audit_scope(directory):
    # a tenant that delegated only the directory scopes still syncs: the sync token never
    # asks for the Reports scope
    with sandbox.serve(directory, scopes=tuple(sorted(sandbox.DIRECTORY_SCOPES))) as idp:
        source = make_source(idp.settings)
        assert source.test_connection().ok
        with pytest.raises(SourcePermissionError) as refused:
            source.reports_client().request("POST", "activity/users/all/applications/admin/watch",
                                            json={"id": "c1", "type": "web_hook",
                                                  "address": "https://example.com/hook"})
        assert "grant admin.reports.audit.readonly to the service account's domain-wide " \
               "delegation" in refused.value.message
        assert "unauthorized_client" in refused.value.message


def test_a_token_without_the_audit_scope_gets_googles_insufficient_scopes_403(directory):
    with sandbox.serve(directory) as idp:
        source = make_source(idp.settings)
        url = f"{idp.url}/admin/reports/v1/activity/users/all/applications/admin/watch"
        body = {"id": "c1", "type": "web_hook", "address": "https://example.com/hook"}
        # the Directory client's token carries only the directory scopes
        with pytest.raises(SourcePermissionError) as refused:
            source.client.request("POST", url, json=body)
        assert refused.value.status == 403
        assert "insufficient authentication scopes" in refused.value.message
        token = source.client.auth.headers(source.client, "POST", url)["Authorization"]
        raw = requests.post(url, json=body, headers={"Authorization": token}, timeout=5)
        assert raw.status_code == 403
        assert raw.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
        assert raw.json()["error"]["status"] == "PERMISSION_DENIED"
        assert 'error="insufficient_scope"' in raw.headers["WWW-Authenticate"]
        # with its own scope the same call opens the channel
        reports = source.reports_client()
        answer = reports.decode(reports.request("POST", url, json=body))
        assert answer["id"] == "c1" and answer["resourceId"]
