"""Rate limits with Atlassian's 429 headers, injected faults, latency and the request log."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import requests

from sandbox.atlassian.testing import running_site

from .conftest import ALICE, EMPTY

BULK = "/rest/api/3/group/bulk"


def test_token_bucket_answers_429_with_headers_and_refills(cloud, admin, monkeypatch):
    ticks = [0.0]  # the buckets' clock stands still until the test moves it
    monkeypatch.setattr(cloud.limits, "monotonic", lambda: ticks[0])
    cloud.limits.set(read=(5.0, 5), write=(1.0, 1))
    statuses, near = [], []
    for _ in range(7):
        response = admin.get(cloud.url(BULK))
        statuses.append(response.status_code)
        near.append(response.headers.get("X-RateLimit-NearLimit"))
    assert statuses == [200] * 5 + [429] * 2
    assert near[4] == "true" and near[0] is None
    last = admin.get(cloud.url(BULK))
    assert last.status_code == 429
    assert int(last.headers["Retry-After"]) >= 1
    assert last.headers["RateLimit-Reason"] == "jira-burst-based"
    assert last.headers["X-RateLimit-Limit"] == "5"
    assert last.headers["X-RateLimit-Remaining"] == "0"
    datetime.fromisoformat(last.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    # writes have their own bucket, so the read exhaustion does not block them
    add = admin.post(cloud.url("/rest/api/3/group/user"), params={"groupId": EMPTY},
                     json={"accountId": ALICE})
    assert add.status_code == 201
    ticks[0] += 0.45
    assert admin.get(cloud.url(BULK)).status_code == 200
    cloud.limits.off()
    assert all(admin.get(cloud.url(BULK)).ok for _ in range(10))


def test_limits_are_per_credential():
    with running_site(rate_limits={"read": (0.5, 2)}) as cloud:
        dave = cloud.site.add_user("d2@example.com", api_token="t2")
        for _ in range(2):
            assert requests.get(cloud.url("/rest/api/3/myself"), auth=cloud.admin_auth,
                                timeout=5).ok
        assert requests.get(cloud.url("/rest/api/3/myself"), auth=cloud.admin_auth,
                            timeout=5).status_code == 429
        assert requests.get(cloud.url("/rest/api/3/myself"), auth=(dave.email, "t2"),
                            timeout=5).ok


def test_status_fault_on_the_nth_call_with_and_without_retry_after(cloud, admin):
    cloud.faults.inject("status", status=503, retry_after=7, nth=2, path="/group/bulk")
    first, second, third = (admin.get(cloud.url(BULK)) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (200, 503, 200)
    assert second.headers["Retry-After"] == "7" and second.json()["errorMessages"]
    cloud.faults.clear()
    cloud.faults.inject("status", status=500, times=1, method="POST")
    assert admin.get(cloud.url(BULK)).ok
    failed = admin.post(cloud.url("/rest/api/3/group"), json={"name": "new"})
    assert failed.status_code == 500 and "Retry-After" not in failed.headers
    assert "new" not in {g.name for g in cloud.site.groups.values()}
    assert admin.post(cloud.url("/rest/api/3/group"), json={"name": "new"}).status_code == 201


def test_seeded_fault_rate_is_reproducible():
    def pattern() -> list[int]:
        with running_site(seed_value=7) as cloud, requests.Session() as s:
            s.auth = cloud.admin_auth
            cloud.faults.inject("status", status=503, rate=0.3)
            return [s.get(cloud.url(BULK)).status_code for _ in range(30)]

    first = pattern()
    assert first == pattern() and 0 < first.count(503) < 30


def test_slow_and_dropped_responses(cloud, admin):
    cloud.faults.inject("slow", seconds=1.0, nth=1)
    with pytest.raises(requests.Timeout):
        admin.get(cloud.url(BULK), timeout=0.3)
    cloud.faults.clear()
    cloud.faults.inject("drop", nth=1)
    with pytest.raises(requests.ConnectionError):
        admin.get(cloud.url(BULK), timeout=5)
    assert admin.get(cloud.url(BULK), timeout=5).ok
    assert [r.status for r in cloud.requests.matching("GET", BULK)][-2:] == [0, 200]


def test_latency_applies_to_every_request(cloud, admin):
    cloud.set_latency(0.2)
    started = time.perf_counter()
    admin.get(cloud.url(BULK))
    assert time.perf_counter() - started >= 0.2
    cloud.set_latency(0)


def test_request_log_counts_writes_and_spots_duplicates(cloud, admin):
    cloud.requests.clear()
    admin.get(cloud.url(BULK))
    for _ in range(2):
        admin.post(cloud.url("/rest/api/3/group/user"), params={"groupId": EMPTY},
                   json={"accountId": ALICE})
    admin.delete(cloud.url("/rest/api/3/group/user"),
                 params={"groupId": EMPTY, "accountId": ALICE})
    admin.post(cloud.url("/rest/api/3/group/user"), params={"groupId": EMPTY},
               json={"accountId": ALICE})
    logged = cloud.requests.all()
    assert [r.status for r in logged] == [200, 201, 400, 200, 201]
    assert all(r.credential == "basic" for r in logged)
    assert len(cloud.requests.writes()) == 4
    (key, count), = cloud.requests.duplicate_writes()
    assert key[0] == "POST" and count == 2



def test_hourly_points_quota_counts_app_traffic_and_spares_api_tokens(cloud, admin):
    from tests.sandbox_atlassian.test_basic_and_oauth import authorize, bearer

    cloud.sandbox.quota.set(points_per_hour=3)
    cloud.oauth.expires_in = 7200  # outlives the quota window
    headers = bearer(authorize(cloud, "read:jira-user")["access_token"])
    url = cloud.jira_api_url("/rest/api/3/myself")
    answers = [requests.get(url, headers=headers, timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    quota = answers[-1].headers
    assert quota["RateLimit-Reason"] == "jira-quota-based"
    assert 3500 < int(quota["Retry-After"]) <= 3600  # the budget resets on the hour
    assert quota["X-RateLimit-Limit"] == "3" and quota["X-RateLimit-Remaining"] == "0"
    # API-token traffic draws no points
    assert all(admin.get(cloud.url("/rest/api/3/myself")).ok for _ in range(5))
    cloud.clock.advance(3601)
    assert requests.get(url, headers=headers, timeout=5).ok
