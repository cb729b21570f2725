"""429 storms, 503s with and without Retry-After, dropped connections, and the retry budget."""

from __future__ import annotations

import time

import pytest

from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import ALICE, ENGINEERING, SiteFactory, make_transport
from workers.atlassian.errors import TransientError
from workers.atlassian.memberships import MembershipOp


def test_429_storm_completes_every_write_once(make_site: SiteFactory, cloud: SiteHandle) -> None:
    users = [cloud.site.add_user(f"storm{i}@example.com").account_id for i in range(60)]
    cloud.limits.set(write=(30.0, 5.0))
    site = make_site("jira", concurrency=8)
    started = time.monotonic()
    results = site.apply_memberships([MembershipOp("add", ENGINEERING, u) for u in users])
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert set(users) <= set(cloud.site.group(ENGINEERING).members)
    assert not cloud.requests.duplicate_writes()
    assert len([r for r in cloud.requests.writes() if r.status == 201]) == 60
    assert elapsed < 8


def test_429_retry_after_is_honoured(make_site: SiteFactory, cloud: SiteHandle) -> None:
    cloud.faults.inject(status=429, retry_after=1, method="POST", path="/group/user", times=1)
    slept: list[float] = []
    transport = make_transport(sleep=lambda s: (slept.append(s), time.sleep(s)))
    make_site("jira", transport=transport).add_member(ENGINEERING, "c" * 24)
    assert 1.0 in slept  # the server's wait, not our shorter backoff
    assert transport.retries == 1


@pytest.mark.parametrize("retry_after", [None, 0])
def test_503_is_retried(make_site: SiteFactory, cloud: SiteHandle, retry_after: int | None) -> None:
    cloud.faults.inject(status=503, retry_after=retry_after, path="/group/member", times=2)
    transport = make_transport()
    members = make_site("jira", transport=transport).group_members(ENGINEERING)
    assert ALICE in {m.account_id for m in members}
    assert transport.retries == 2


def test_dropped_connection_is_retried(make_site: SiteFactory, cloud: SiteHandle) -> None:
    cloud.faults.inject(kind="drop", method="POST", path="/group/user", times=1)
    transport = make_transport()
    make_site("jira", transport=transport).add_member(ENGINEERING, "c" * 24)
    assert "c" * 24 in cloud.site.group(ENGINEERING).members
    assert transport.retries == 1


def test_an_answer_cut_off_part_way_is_read_again(make_site: SiteFactory, cloud: SiteHandle) -> None:
    cloud.faults.inject(kind="cut", method="GET", path="/group/member", times=1)
    transport = make_transport()
    members = make_site("jira", transport=transport).group_members(ENGINEERING)
    assert ALICE in {m.account_id for m in members}
    assert transport.retries == 1


def test_a_write_whose_answer_is_cut_off_is_sent_again_without_harm(make_site: SiteFactory,
                                                                    cloud: SiteHandle) -> None:
    # the site applied the first add: the second is answered "already a member", which is done
    cloud.faults.inject(kind="cut", method="POST", path="/group/user", times=1)
    transport = make_transport()
    make_site("jira", transport=transport).add_member(ENGINEERING, "c" * 24)
    assert "c" * 24 in cloud.site.group(ENGINEERING).members
    assert transport.retries == 1 and len(cloud.requests.matching("POST", "/group/user")) == 2


def test_retry_budget_is_bounded(make_site: SiteFactory, cloud: SiteHandle) -> None:
    cloud.faults.inject(status=503, path="/group/bulk")
    transport = make_transport()
    with pytest.raises(TransientError) as err:
        make_site("jira", transport=transport).list_groups()
    assert err.value.status == 503 and err.value.operation == "list_groups"
    assert len(cloud.requests.matching("GET", "/group/bulk")) == 5  # 1 + 4 retries
