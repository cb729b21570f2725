"""Fixtures: a running sandbox site with a small known directory, and HTTP sessions for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.atlassian.testing import SiteHandle, running_site

ALICE, BOB, CAROL, DAVE = ("a" * 24, "b" * 24, "c" * 24, "d" * 24)
SEED = {
    "users": [
        {"accountId": ALICE, "emailAddress": "alice@example.com", "displayName": "Alice Able"},
        {"accountId": BOB, "emailAddress": "bob@example.com", "displayName": "Bob Baker",
         "active": False},
        {"accountId": CAROL, "emailAddress": "carol@example.com",
         "displayName": "Carol Customer", "accountType": "customer"},
        {"accountId": DAVE, "emailAddress": "dave@example.com", "displayName": "Dave Doe",
         "apiToken": "dave-token", "emailHidden": True},
    ],
    "groups": [
        {"name": "engineering", "groupId": "11111111-1111-4111-8111-111111111111",
         "members": [ALICE, BOB, CAROL]},
        {"name": "sales", "groupId": "22222222-2222-4222-8222-222222222222",
         "members": [ALICE]},
        {"name": "empty", "groupId": "33333333-3333-4333-8333-333333333333"},
    ],
}
ENGINEERING, SALES, EMPTY = (g["groupId"] for g in SEED["groups"])


@pytest.fixture()
def cloud() -> Iterator[SiteHandle]:
    with running_site(seed=SEED) as handle:
        yield handle


@pytest.fixture()
def admin(cloud: SiteHandle) -> Iterator[requests.Session]:
    """A session authenticated as the site admin with Basic e-mail:API token."""
    with requests.Session() as session:
        session.auth = cloud.admin_auth
        yield session


def expect_request_violation(cloud: SiteHandle, fragment: str) -> None:
    """Assert the sandbox flagged a deliberately bad request, then forget it."""
    report = cloud.violation_report()
    assert fragment in report, report
    cloud.violations.clear()
