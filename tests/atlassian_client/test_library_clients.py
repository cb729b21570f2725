"""The product's calls are made by atlassian-python-api's Cloud clients, on our transport."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from atlassian import CloudAdmin, ConfluenceCloud, JiraCloud
from atlassian.rest_client import AtlassianRestAPI

from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import (
    ALICE,
    CAROL,
    ENGINEERING,
    SiteFactory,
    make_transport,
)
from workers.atlassian.errors import NotFoundError, TransientError

Sent = list[tuple[str, str, str]]


@pytest.fixture()
def library_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sent]:
    """Every request the library makes: (client class, method, path), passed on unchanged."""
    sent: Sent = []
    original = AtlassianRestAPI.request

    def spy(self: AtlassianRestAPI, method: str = "GET", path: str = "/", *args: Any,
            **kwargs: Any) -> Any:
        sent.append((type(self).__name__, method, path))
        return original(self, method, path, *args, **kwargs)

    monkeypatch.setattr(AtlassianRestAPI, "request", spy)
    yield sent


def test_jira_operations_are_jira_cloud_v3_calls(make_site: SiteFactory, cloud: SiteHandle,
                                                 library_calls: Sent) -> None:
    site = make_site("jira")
    site.list_groups()
    site.group_members(ENGINEERING)
    site.add_member(ENGINEERING, CAROL)
    site.remove_member(ENGINEERING, CAROL)
    assert site.find_user_by_email("alice@example.com").account_id == ALICE  # type: ignore[union-attr]
    assert {c for c, _, _ in library_calls} == {JiraCloud.__name__}
    paths = {(m, p) for _, m, p in library_calls}
    assert {("GET", "rest/api/3/group/bulk"), ("GET", "rest/api/3/group/member"),
            ("POST", "rest/api/3/group/user"), ("DELETE", "rest/api/3/group/user"),
            ("GET", "rest/api/3/user/search")} <= paths
    # and every one of them went out through our transport (counted, guarded, paced)
    assert site.transport.calls == len(library_calls)


def test_confluence_and_org_calls_use_their_cloud_clients(make_site: SiteFactory,
                                                          library_calls: Sent) -> None:
    site = make_site("confluence", org=True)
    site.list_groups()
    site.group_members(ENGINEERING)
    site.check_org_access()
    classes = [c for c, _, _ in library_calls]
    assert classes[:2] == [ConfluenceCloud.__name__] * 2
    assert CloudAdmin.__name__ in classes


def test_the_sites_words_come_back_as_our_typed_errors(make_site: SiteFactory) -> None:
    site = make_site("jira")
    with pytest.raises(NotFoundError) as err:
        site.add_member("99999999-9999-4999-8999-999999999999", CAROL)
    assert err.value.status == 404 and err.value.remote_message  # not requests.HTTPError


def test_retries_are_ours_not_the_librarys(make_site: SiteFactory, cloud: SiteHandle) -> None:
    transport = make_transport()
    site = make_site("jira", transport=transport)
    cloud.faults.inject(status=429, retry_after=0, method="GET", path="/group/bulk", times=2)
    assert site.list_groups()
    assert transport.retries == 2
    cloud.faults.inject(status=503, method="GET", path="/group/bulk", times=99)
    with pytest.raises(TransientError):
        site.list_groups()
    # the library's own retry loop never ran: every attempt is one of our counted calls
    assert transport.retries == 2 + transport.policy.max_retries
