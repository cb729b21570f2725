"""The organization API v2 as the write path: groups, members and invites with one org API key."""

from __future__ import annotations

from typing import Any

import pytest

from app.models.credential import CredentialKind
from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import (
    ALICE,
    BOB,
    CAROL,
    ENGINEERING,
    SALES,
    SiteFactory,
    Store,
    make_transport,
    settings_for,
)
from workers.atlassian.credentials import save_credential
from workers.atlassian.errors import (
    BadRequestError,
    LicenceExceededError,
    MissingCredentialError,
    NotFoundError,
    PermissionDenied,
)
from workers.atlassian.factory import site_for_installation
from workers.atlassian.memberships import MembershipOp


def org_writes(cloud: SiteHandle) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in cloud.requests.writes()]


def credentials_of_writes(cloud: SiteHandle) -> set[str]:
    return {r.credential for r in cloud.requests.writes()}


@pytest.mark.parametrize("product", ["jira", "confluence"])
def test_an_org_key_alone_writes_groups_and_members_through_the_organization(
        make_site: SiteFactory, cloud: SiteHandle, product: str) -> None:
    site = make_site(product, write=None, org=True)
    assert site.writes_via_org
    group = site.create_group("platform")
    assert cloud.site.group(group.group_id).name == "platform"
    site.add_member(group.group_id, CAROL)
    site.add_member(group.group_id, CAROL)  # already a member: done
    site.remove_member(ENGINEERING, BOB)
    site.remove_member(ENGINEERING, BOB)  # not a member: done
    assert set(cloud.site.group(group.group_id).members) == {CAROL}
    assert BOB not in cloud.site.group(ENGINEERING).members
    assert credentials_of_writes(cloud) == {"org-key"}
    directory = cloud.site.directory_id
    assert ("DELETE", f"/admin/v2/orgs/{cloud.org_id}/directories/{directory}/groups/"
            f"{ENGINEERING}/memberships/{BOB}") in org_writes(cloud)
    # reads stay on the app's own identity
    assert {m.account_id for m in site.group_members(group.group_id)} == {CAROL}
    reads = {r.credential for r in cloud.requests.all() if r.method == "GET"
             and not r.path.startswith("/admin/")}
    assert reads == {"jwt"}


def test_a_group_created_meanwhile_is_the_one_answered(make_site: SiteFactory,
                                                       cloud: SiteHandle) -> None:
    existing = cloud.site.add_group("Created-Elsewhere")
    site = make_site("jira", write=None, org=True)
    group = site.create_group("created-elsewhere")
    assert group.group_id == existing.group_id
    assert len([g for g in cloud.site.sorted_groups()
                if g.name.lower() == "created-elsewhere"]) == 1


def test_refusals_are_the_typed_errors(make_site: SiteFactory, cloud: SiteHandle) -> None:
    site = make_site("jira", write=None, org=True)
    with pytest.raises(NotFoundError):
        site.add_member("99999999-9999-4999-8999-999999999999", ALICE)
    with pytest.raises(NotFoundError):
        site.add_member(SALES, "f" * 24)
    cloud.site.group(ENGINEERING).external_synced = True
    with pytest.raises(BadRequestError) as synced:
        site.add_member(ENGINEERING, CAROL)
    assert "identity provider" in str(synced.value)
    access = cloud.site.group_by_name("jira-software-users")
    cloud.site.seats["jira-software-users"] = len(access.members)
    cloud.requests.clear()
    with pytest.raises(LicenceExceededError) as full:
        site.add_member(access.group_id, CAROL)
    assert "free or buy seats" in str(full.value)
    assert len([r for r in cloud.requests.writes() if r.path.endswith("/memberships")]) == 1


def test_concurrent_memberships_through_the_organization(make_site: SiteFactory,
                                                         cloud: SiteHandle) -> None:
    site = make_site("jira", write=None, org=True, concurrency=4)
    ops = [MembershipOp("add", SALES, CAROL), MembershipOp("add", SALES, ALICE),
           MembershipOp("remove", ENGINEERING, ALICE), MembershipOp("add", SALES, "f" * 24)]
    outcomes = [r.outcome for r in site.apply_memberships(ops)]
    assert outcomes == ["done", "done", "done", "failed"]
    assert set(cloud.site.group(SALES).members) == {ALICE, CAROL}
    # one group search per group, not per write
    searches = [r for r in cloud.requests.all() if r.path.endswith("/groups/search")]
    assert len(searches) <= 2 * 2


def test_the_option_chooses_the_path(make_site: SiteFactory, cloud: SiteHandle) -> None:
    forced = make_site("jira", write="token", org=True, org_writes=True)
    forced.add_member(SALES, CAROL)
    assert credentials_of_writes(cloud) == {"org-key"}
    cloud.requests.clear()
    token = make_site("jira", write="token", org=True)  # a product credential: it writes
    token.remove_member(SALES, CAROL)
    assert credentials_of_writes(cloud) == {"basic"}
    cloud.requests.clear()
    never = make_site("jira", write=None, org=True, org_writes=False)
    with pytest.raises(MissingCredentialError):  # the Connect app's own JWT may not write
        never.add_member(SALES, CAROL)
    assert not cloud.requests.writes() or credentials_of_writes(cloud) == {"jwt"}
    assert CAROL not in cloud.site.group(SALES).members


def test_an_identity_refused_writes_writes_through_the_organization(
        make_site: SiteFactory, cloud: SiteHandle) -> None:
    """A Forge app's own token may not write groups; its org key can."""
    alone = make_site("jira", write=None, may_write=False)
    with pytest.raises(MissingCredentialError):
        alone.add_member(SALES, CAROL)
    site = make_site("jira", write=None, org=True, may_write=False)
    site.add_member(SALES, CAROL)
    assert CAROL in cloud.site.group(SALES).members


def test_invite_through_the_organization_grants_the_product_access_group(
        make_site: SiteFactory, cloud: SiteHandle) -> None:
    site = make_site("jira", write=None, org=True)
    user = site.invite_user("erin@example.com", "Erin", ["jira-software"])
    assert user.active and cloud.site.user(user.account_id).email == "erin@example.com"
    assert user.account_id in cloud.site.group_by_name("jira-software-users").members
    again = site.invite_user("ERIN@example.com", "Erin", ["jira-software"])
    assert again.account_id == user.account_id
    assert ("POST", f"/admin/v2/orgs/{cloud.org_id}/users/invite") in org_writes(cloud)
    assert not [r for r in cloud.requests.all() if r.path == "/rest/api/3/user"]
    with pytest.raises(BadRequestError) as missing:
        site.invite_user("finn@example.com", "", ["jira-product-discovery"])
    assert "jira-product-discovery-users" in str(missing.value)
    assert cloud.site.user_by_email("finn@example.com") is None


def test_invite_beyond_the_licence_and_in_an_unpaid_org(make_site: SiteFactory,
                                                        cloud: SiteHandle) -> None:
    site = make_site("jira", write=None, org=True)
    access = cloud.site.group_by_name("jira-software-users")
    cloud.site.seats["jira-software-users"] = len(access.members)
    with pytest.raises(LicenceExceededError) as full:
        site.invite_user("gail@example.com", "", ["jira-software"])
    created = cloud.site.user_by_email("gail@example.com")
    assert created is not None and created.account_id in str(full.value)
    cloud.site.org_paid = False
    with pytest.raises(PermissionDenied) as unpaid:
        site.invite_user("hank@example.com", "", [])
    assert "paid subscription" in str(unpaid.value)


def test_a_confluence_only_site_invites_through_the_organization(
        make_site: SiteFactory, cloud: SiteHandle) -> None:
    cloud.site.products.discard("jira")
    for write, email in ((None, "ivy@example.com"), ("token", "jack@example.com")):
        site = make_site("confluence", write=write, org=True)
        user = site.invite_user(email, "", [])
        assert cloud.site.user(user.account_id).email == email
    without_key = make_site("confluence", write=None)
    with pytest.raises(MissingCredentialError) as hint:
        without_key.invite_user("kim@example.com", "", [])
    assert "organization API key" in str(hint.value)


def test_the_org_key_from_the_database_writes_alone_or_by_option(
        cloud: SiteHandle, store: Store, installation_id: int) -> None:
    def build() -> Any:
        return site_for_installation(installation_id, db=store.db, settings=settings_for(cloud),
                                     encrypt=store.encrypt, decrypt=store.decrypt,
                                     transport=make_transport())

    save_credential(store.db, installation_id, CredentialKind.ORG_API_KEY,
                    {"org_id": cloud.org_id, "api_key": cloud.org_api_key}, store.encrypt)
    alone = build()
    assert alone.writes_via_org and "organization" in alone.check_write_access()
    alone.add_member(SALES, CAROL)
    save_credential(store.db, installation_id, CredentialKind.API_TOKEN,
                    {"email": cloud.admin_email, "api_token": cloud.admin_api_token},
                    store.encrypt)
    assert not build().writes_via_org
    save_credential(store.db, installation_id, CredentialKind.ORG_API_KEY,
                    {"org_id": cloud.org_id, "api_key": cloud.org_api_key, "writes": True},
                    store.encrypt)
    cloud.requests.clear()
    build().remove_member(SALES, CAROL)
    assert credentials_of_writes(cloud) == {"org-key"}
