"""What a real site refuses or hides, through the client: active-only search, exact e-mail
matching, invites of existing and suspended accounts, licence exhaustion, org API v2."""

from __future__ import annotations

import pytest

from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import (
    ALICE,
    BOB,
    CAROL,
    ENGINEERING,
    SiteFactory,
    make_transport,
)
from workers.atlassian import products
from workers.atlassian.errors import (
    BadRequestError,
    LicenceExceededError,
    MissingCredentialError,
    NotFoundError,
    QuotaExhaustedError,
)


def test_search_sees_active_visible_accounts_only_and_the_org_search_sees_the_rest(
        make_site: SiteFactory, cloud: SiteHandle) -> None:
    site = make_site("jira")
    assert site.find_user_by_email("bob@example.com") is None  # inactive: user/search hides it
    with_org = make_site("jira", org=True)
    bob = with_org.find_user_by_email("bob@example.com")
    assert bob is not None and bob.account_id == BOB and not bob.active
    assert cloud.requests.matching("POST", "/directories/-/users/search")


def test_a_lone_hidden_address_is_never_taken_for_another() -> None:
    # the search matched someone by a prefix and hides their address: it may be
    # bob@example.com.au answering a search for bob@example.com
    lone_hidden = [{"accountId": "e" * 24, "displayName": "Bobby", "active": True}]
    assert products.pick_user(lone_hidden, "bob@example.com") is None
    exact = [*lone_hidden, {"accountId": BOB, "emailAddress": "Bob@Example.com"}]
    assert products.pick_user(exact, "bob@example.com").account_id == BOB


def test_the_org_search_finds_a_hidden_address_exactly(make_site: SiteFactory,
                                                       cloud: SiteHandle) -> None:
    cloud.site.add_user("bob@example.com.au", "Bobby Au").email_hidden = True
    hidden = cloud.site.user_by_email("bob@example.com.au")
    assert make_site("jira").find_user_by_email("bob@example.com.au") is None
    found = make_site("jira", org=True).find_user_by_email("bob@example.com.au")
    assert found is not None and found.account_id == hidden.account_id
    assert make_site("jira", org=True).find_user_by_email("bob@example.com.a") is None


def test_invite_answers_the_existing_account_or_says_why_not(make_site: SiteFactory,
                                                             cloud: SiteHandle) -> None:
    site = make_site("jira")
    cloud.site.grant_products(ALICE, ["jira-software"])
    assert site.invite_user("alice@example.com", "", []).account_id == ALICE
    with pytest.raises(BadRequestError) as err:
        site.invite_user("carol@example.com", "", [])  # Carol has no Jira access
    assert "without Jira access" in str(err.value)
    assert site.invite_user("carol@example.com", "", ["jira-software"]).account_id == CAROL


def test_an_invite_by_a_credential_that_is_not_site_admin_is_refused_clearly(
        make_site: SiteFactory, cloud: SiteHandle) -> None:
    site_admins = cloud.site.group_by_name("site-admins")
    site_admins.members.pop(cloud.admin_account_id)  # still in jira-admins: Administer Jira
    with pytest.raises(MissingCredentialError) as err:  # stops the run: every invite would
        make_site("jira").invite_user("zed@example.com", "Zed", ["jira-software"])
    assert "created suspended" in str(err.value) and "site admin" in str(err.value)


@pytest.mark.parametrize("product,group", [("jira", "jira-software-users"),
                                           ("confluence", "confluence-users")])
def test_licence_exhaustion_is_permanent_and_explained(make_site: SiteFactory,
                                                       cloud: SiteHandle, product: str,
                                                       group: str) -> None:
    access = cloud.site.group_by_name(group)
    cloud.site.seats[group] = len(access.members)
    site = make_site(product)
    with pytest.raises(LicenceExceededError) as err:
        site.add_member(access.group_id, ALICE)
    assert "licen" in str(err.value).lower()
    assert site.transport.retries == 0  # not four blind retries
    # an ordinary group is unaffected
    site.add_member(ENGINEERING, CAROL)


def test_suspend_names_the_directory_and_an_unknown_account_is_not_found(
        make_site: SiteFactory, cloud: SiteHandle) -> None:
    site = make_site("jira", org=True)
    site.suspend_access(CAROL)
    site.restore_access(CAROL)
    directory = cloud.site.directory_id
    assert len(cloud.requests.matching("POST", f"/directories/{directory}/users/")) == 2
    assert len(cloud.requests.matching("GET", "/directories")) == 1  # discovered once
    with pytest.raises(NotFoundError):
        site.suspend_access("f" * 24)


def test_a_quota_429_defers_at_once_instead_of_sleeping_for_an_hour(
        make_site: SiteFactory, cloud: SiteHandle) -> None:
    sleeps: list[float] = []
    cloud.sandbox.quota.set(points_per_hour=2)  # Connect JWT reads are app traffic
    site = make_site("jira", transport=make_transport(sleep=sleeps.append))
    site.group_members(ENGINEERING)
    site.group_members(ENGINEERING)
    with pytest.raises(QuotaExhaustedError) as err:
        site.group_members(ENGINEERING)
    assert 3500 < err.value.retry_after <= 3600 and "budget" in str(err.value)
    assert site.transport.retries == 0 and not [s for s in sleeps if s > 1]


def test_an_hourly_budget_is_not_read_as_a_per_second_bucket(
        make_site: SiteFactory, cloud: SiteHandle) -> None:
    cloud.sandbox.quota.set(points_per_hour=10_000)
    cloud.sandbox.quota.used = 9_900  # under 20 % left: every answer says NearLimit
    site = make_site("jira")
    for _ in range(20):
        site.group_members(ENGINEERING)
    assert site.transport.gates["read"].interval == 0.0


def test_groups_named_reads_only_the_groups_asked_for(make_site: SiteFactory,
                                                      cloud: SiteHandle) -> None:
    for i in range(120):
        cloud.site.add_group(f"bystander-{i:03d}")
    names = [f"bystander-{i:03d}" for i in range(0, 120, 2)] + ["nope"]
    site = make_site("jira")
    found = site.groups_named([ENGINEERING], names)
    assert {g.name for g in found} == {"engineering", *names} - {"nope"}
    calls = cloud.requests.matching("GET", "/rest/api/3/group/bulk")
    assert len(calls) == 2  # 62 identifiers, at most 50 a call; the site's 125 groups unread
    assert len(site.groups_named([], [])) == 0
