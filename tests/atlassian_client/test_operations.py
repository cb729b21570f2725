"""Every operation of the client on the Jira and the Confluence flavour, over HTTP to the sandbox."""

from __future__ import annotations

import threading

import pytest

from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import ALICE, BOB, CAROL, ENGINEERING, SALES, SiteFactory
from workers.atlassian.errors import NotFoundError
from workers.atlassian.memberships import MembershipOp

PRODUCTS = ["jira", "confluence"]


@pytest.mark.parametrize("product", PRODUCTS)
def test_reads(make_site: SiteFactory, cloud: SiteHandle, product: str) -> None:
    site = make_site(product)
    names = {g.name for g in site.list_groups()}
    assert {"engineering", "sales", "site-admins", "jira-software-users"} <= names
    members = {u.account_id: u for u in site.group_members(ENGINEERING)}
    assert set(members) == {ALICE, BOB}
    assert members[ALICE].email == "alice@example.com" and members[ALICE].active
    assert not members[BOB].active  # inactive members are listed, flagged
    found = site.find_user_by_email("CAROL@example.com")
    assert found is not None and found.account_id == CAROL
    assert site.find_user_by_email("nobody@example.com") is None
    assert site.is_site_admin(cloud.admin_account_id)
    assert not site.is_site_admin(CAROL)
    # reads go with the app's own identity, but for the e-mail search a Confluence
    # installation sends through Jira with the site-admin API token (its JWT is Confluence's)
    searches = {r.credential for r in cloud.requests.matching("GET", "/rest/api/3/user/search")}
    assert searches == ({"jwt"} if product == "jira" else {"basic"})
    assert {r.credential for r in cloud.requests.all() if r.method == "GET"
            and "/user/search" not in r.path} == {"jwt"}


@pytest.mark.parametrize("product", ["jira", "confluence"])
def test_user_groups(make_site: SiteFactory, product: str) -> None:
    groups = make_site(product).user_groups(ALICE)
    assert {g.group_id for g in groups} >= {ENGINEERING, SALES}
    assert ENGINEERING not in {g.group_id for g in make_site(product).user_groups(CAROL)}


@pytest.mark.parametrize("product", PRODUCTS)
def test_all_pages_are_read(make_site: SiteFactory, cloud: SiteHandle, product: str) -> None:
    for i in range(230):  # over both page sizes (50 Jira, 200 Confluence)
        user = cloud.site.add_user(f"bulk{i}@example.com")
        cloud.site.add_member(ENGINEERING, user.account_id)
        cloud.site.add_group(f"bulk-group-{i:03d}")
    site = make_site(product)
    assert len(site.group_members(ENGINEERING)) == 232
    groups = site.list_groups()
    assert len(groups) == len(cloud.site.groups)
    assert len({g.group_id for g in groups}) == len(groups)


@pytest.mark.parametrize("product", PRODUCTS)
def test_writes_are_idempotent(make_site: SiteFactory, cloud: SiteHandle, product: str) -> None:
    site = make_site(product)
    group = site.create_group(f"{product}-team")
    assert cloud.site.group(group.group_id).name == f"{product}-team"
    assert site.create_group(f"{product}-team") == group  # the existing one, not an error
    site.add_member(group.group_id, CAROL)
    site.add_member(group.group_id, CAROL)  # already a member: success
    assert CAROL in cloud.site.group(group.group_id).members
    site.remove_member(group.group_id, CAROL)
    site.remove_member(group.group_id, CAROL)  # not a member: success
    assert CAROL not in cloud.site.group(group.group_id).members
    writes = cloud.requests.writes()
    assert {r.credential for r in writes} == {"basic"}
    assert not cloud.requests.duplicate_writes()


@pytest.mark.parametrize("product", PRODUCTS)
def test_concurrent_create_returns_one_group(make_site: SiteFactory, cloud: SiteHandle,
                                             product: str) -> None:
    site = make_site(product)
    results, barrier = [], threading.Barrier(6)

    def create() -> None:
        barrier.wait()
        results.append(site.create_group("Platform"))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert [g.name for g in cloud.site.groups.values()].count("Platform") == 1


@pytest.mark.parametrize("product", PRODUCTS)
def test_invite_and_unknown_group(make_site: SiteFactory, cloud: SiteHandle, product: str) -> None:
    site = make_site(product)
    user = site.invite_user("newbie@example.com", "New Bie", ["jira-software"])
    assert cloud.site.user_by_email("newbie@example.com").account_id == user.account_id
    assert site.invite_user("newbie@example.com", "", ["jira-software"]) == user
    with pytest.raises(NotFoundError) as err:
        site.add_member("99999999-9999-4999-8999-999999999999", ALICE)
    assert err.value.operation == "add_member" and err.value.status == 404
    assert "does not exist" in err.value.remote_message


@pytest.mark.parametrize("product", PRODUCTS)
def test_apply_memberships(make_site: SiteFactory, cloud: SiteHandle, product: str) -> None:
    site = make_site(product)
    ops = [MembershipOp("add", SALES, CAROL), MembershipOp("add", SALES, ALICE),
           MembershipOp("remove", ENGINEERING, BOB), MembershipOp("remove", SALES, BOB),
           MembershipOp("add", "99999999-9999-4999-8999-999999999999", ALICE)]
    results = site.apply_memberships(ops)
    assert [r.op for r in results] == ops
    assert [r.outcome for r in results] == ["done"] * 4 + ["failed"]
    assert isinstance(results[-1].error, NotFoundError)
    assert set(cloud.site.group(SALES).members) == {ALICE, CAROL}
    assert BOB not in cloud.site.group(ENGINEERING).members


def test_suspend_and_restore_with_org_key(make_site: SiteFactory, cloud: SiteHandle) -> None:
    site = make_site("jira", org=True)
    site.suspend_access(CAROL)
    assert cloud.site.user(CAROL).suspended
    site.restore_access(CAROL)
    assert not cloud.site.user(CAROL).suspended
    assert {r.credential for r in cloud.requests.matching("POST", "/admin/")} == {"org-key"}
