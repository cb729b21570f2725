"""The spec index and validator: lookups, and catching requests or responses that break the spec."""

from __future__ import annotations

import json
import time

import pytest
import requests

from sandbox.atlassian.spec import load_spec, spec_for_path
from sandbox.atlassian.testing import running_site
from sandbox.atlassian.validation import check_request, check_response


def test_lookup_prefers_literal_segments_and_reads_scopes():
    confluence = load_spec("confluence")
    op, params = confluence.find("GET", "/wiki/rest/api/group/by-id")
    assert op.template == "/wiki/rest/api/group/by-id" and params == {}
    op, params = confluence.find("GET", "/wiki/rest/api/group/g-1/membersByGroupId")
    assert params == {"groupId": "g-1"} and op.connect_scope == "READ"
    jira = load_spec("jira")
    op, _ = jira.find("POST", "/rest/api/3/group/user")
    assert op.connect_scope == "INACCESSIBLE"
    assert {"manage:jira-configuration"} in op.oauth_scope_sets
    assert jira.find("GET", "/rest/api/3/no/such/thing") is None
    assert spec_for_path("/admin/v1/orgs") is None


def test_lookup_is_fast_once_loaded():
    jira = load_spec("jira")
    started = time.perf_counter()
    for _ in range(1000):
        jira.find("GET", "/rest/api/3/group/member")
    assert time.perf_counter() - started < 0.5


def test_a_wrong_response_is_caught():
    op, _ = load_spec("jira").find("GET", "/rest/api/3/group/member")
    good = {"startAt": 0, "maxResults": 50, "total": 1, "isLast": True,
            "values": [{"accountId": "abc", "displayName": "A", "active": True}]}
    assert check_response(op, 200, json.dumps(good).encode(), "application/json") == []
    wrong = {**good, "isLast": "yes", "values": [{"accountId": 5, "nickname": "x"}]}
    problems = check_response(op, 200, json.dumps(wrong).encode(), "application/json")
    assert any("isLast" in p for p in problems)
    assert any("'nickname' was unexpected" in p for p in problems)
    assert any("values/0/accountId" in p for p in problems)
    assert check_response(op, 418, b"", "text/plain") == [
        "status 418 is not documented for GET /rest/api/3/group/member"]
    assert check_response(op, 200, b"<html>", "text/html")


def test_a_wrong_request_is_caught():
    op, _ = load_spec("jira").find("GET", "/rest/api/3/group/member")
    assert check_request(op, {"groupId": ["g"], "startAt": ["0"]}, {}, b"", "") == []
    problems = check_request(op, {"startAt": ["zero"], "groupName": ["x"]}, {}, b"", "")
    assert "query parameter 'startAt': 'zero' is not an integer" in problems
    assert "unknown query parameter 'groupName'" in problems
    post, _ = load_spec("jira").find("POST", "/rest/api/3/group/user")
    assert check_request(post, {}, {}, b'{"accountId": 7}', "application/json") == [
        "request body accountId: 7 is not of type 'string'"]
    assert check_request(post, {}, {}, b"{", "application/json")[0].startswith(
        "request body is not JSON")


def test_running_site_fails_on_exit_when_the_spec_was_broken():
    with pytest.raises(AssertionError, match="unknown query parameter 'groupName'"), \
            running_site() as cloud:
        requests.get(cloud.url("/rest/api/3/group/member"),
                     params={"groupName": "site-admins"}, auth=cloud.admin_auth, timeout=5)


def test_validation_can_be_turned_off():
    with running_site(validate=False) as cloud:
        requests.get(cloud.url("/rest/api/3/group/member"),
                     params={"groupName": "site-admins"}, auth=cloud.admin_auth, timeout=5)
        assert cloud.violations.all() == []
