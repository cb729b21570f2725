"""The app's hourly Atlassian budget, shared through Redis: one site's big sync leaves room."""

from __future__ import annotations

import pytest
from redis import Redis

from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import ENGINEERING, SiteFactory
from workers.atlassian.budget import WINDOW, AppBudget
from workers.atlassian.errors import QuotaExhaustedError


@pytest.fixture()
def redis(redis_url: str):  # type: ignore[no-untyped-def]
    client = Redis.from_url(redis_url)
    for key in client.scan_iter("usersync:atlassian-budget:*"):
        client.delete(key)
    yield client
    client.close()


def test_one_site_takes_its_share_and_the_others_keep_theirs(
        make_site: SiteFactory, cloud: SiteHandle, redis: Redis) -> None:
    noon = 3600.0 * 490_000 + 600  # ten minutes into an hour
    big = make_site("jira")
    big.budget = AppBudget(redis, "site-a", points_per_hour=20, tenant_share=0.5,
                           clock=lambda: noon)
    small = make_site("jira")
    small.budget = AppBudget(redis, "site-b", points_per_hour=20, tenant_share=0.5,
                             clock=lambda: noon)
    for _ in range(10):
        big.group_members(ENGINEERING)
    sent = len(cloud.requests.all())
    with pytest.raises(QuotaExhaustedError) as err:
        big.group_members(ENGINEERING)
    assert "share (10 of 20 points)" in str(err.value)
    assert err.value.retry_after == pytest.approx(WINDOW - 600)
    assert len(cloud.requests.all()) == sent  # refused before anything was sent
    for _ in range(10):
        small.group_members(ENGINEERING)  # the other site's share is untouched
    with pytest.raises(QuotaExhaustedError):
        small.group_members(ENGINEERING)


def test_the_whole_pool_and_api_tokens(make_site: SiteFactory, redis: Redis) -> None:
    now = 3600.0 * 490_001
    sites = [make_site("jira") for _ in range(3)]
    for i, site in enumerate(sites):
        site.budget = AppBudget(redis, f"s{i}", points_per_hour=6, tenant_share=0.5,
                                clock=lambda: now)
    for site in sites[:2]:
        for _ in range(3):
            site.group_members(ENGINEERING)
    with pytest.raises(QuotaExhaustedError) as err:
        sites[2].group_members(ENGINEERING)
    assert "shared by every site" in str(err.value)
    # writes with a site-admin API token draw no points
    sites[2].add_member(ENGINEERING, "c" * 24)
    # a new hour starts a new count
    later = AppBudget(redis, "s2", points_per_hour=6, tenant_share=0.5, clock=lambda: now + WINDOW)
    later.take("read")


def test_an_unreachable_redis_never_stops_a_sync() -> None:
    budget = AppBudget(Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), "s",
                       points_per_hour=1)
    budget.take("read")
    budget.take("read")
