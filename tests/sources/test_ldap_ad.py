"""The LDAP source against a real Samba Active Directory DC: objectGUID ids, userAccountControl,
ranged members of a group over 1,500, LDAP_MATCHING_RULE_IN_CHAIN nesting, paging and LDAPS."""

from __future__ import annotations

import ldap3
import pytest

from tests.sources.samba_ad import (
    DISABLED,
    DISABLED_NO_EXPIRY,
    DISABLED_SYNC_DN,
    DOMAIN_DN,
    GROUPS,
    PEOPLE,
    SYNC_DN,
    SYNC_PASSWORD,
    SambaDC,
    group_dn,
    group_ldif,
    require_samba,
    user_dn,
    user_ldif,
)
from workers.backoff import BackoffPolicy
from workers.sources.base import SourceAuthError
from workers.sources.ldap import LdapSource

USERS = 1600  # more than AD's MaxValRange (1500) in one group, more than MaxPageSize (1000)
DISABLED_USERS = {"user0005": DISABLED, "user0777": DISABLED_NO_EXPIRY}
IN_CHAIN = "1.2.840.113556.1.4.1941"
FAST = BackoffPolicy(initial=0.01, cap=0.02, max_retries=1)


def name(i: int) -> str:
    return f"user{i:04d}"


def members(first: int, last: int) -> list[str]:
    return [user_dn(name(i)) for i in range(first, last + 1)]


def seed() -> str:
    people = "".join(user_ldif(name(i), DISABLED_USERS.get(name(i), 544)) for i in range(USERS))
    groups = group_ldif("Everyone", members(0, USERS - 1))
    groups += group_ldif("Platform", members(20, 24))
    groups += group_ldif("Backend", members(10, 19) + [group_dn("Platform")])
    groups += group_ldif("Engineering", members(0, 9) + [group_dn("Backend")])
    groups += group_ldif("Sales", members(100, 104))
    return people + groups


@pytest.fixture(scope="module")
def dc():
    require_samba()
    with SambaDC(seed()) as server:
        yield server


class Wire:
    """What the source asked the DC for, seen through a subclass of ldap3's real connection."""

    def __init__(self) -> None:
        self.binds = 0
        self.searches: list[tuple[str, list[str]]] = []


@pytest.fixture()
def wire(monkeypatch) -> Wire:
    seen = Wire()
    real = ldap3.Connection

    class Counting(real):  # type: ignore[misc,valid-type]
        def bind(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.binds += 1
            return super().bind(*args, **kwargs)

        def search(self, search_base, search_filter, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.searches.append((search_base, list(kwargs.get("attributes") or [])))
            return super().search(search_base, search_filter, *args, **kwargs)

    monkeypatch.setattr(ldap3, "Connection", Counting)
    return seen


def settings(dc: SambaDC, **overrides) -> dict:
    base = {"preset": "active_directory", "url": dc.url, "bind_dn": SYNC_DN,
            "bind_password": SYNC_PASSWORD, "base_dn": f"OU=Sync,{DOMAIN_DN}",
            "user_base_dn": PEOPLE, "group_base_dn": GROUPS, "timeout": 20}
    return base | overrides


def source(dc: SambaDC, **overrides) -> LdapSource:
    return LdapSource(settings(dc, **overrides), allow_private=True, backoff=FAST,
                      sleep=lambda s: None)


def by_email(snapshot, email: str):
    return next(u for u in snapshot.users.values() if u.email == email)


def by_name(snapshot, group: str):
    return next(g for g in snapshot.groups.values() if g.name == group)


def emails(snapshot, ids) -> set[str]:
    return {snapshot.users[i].email for i in ids}


def test_full_fetch_objectguid_ids_disabled_users_and_one_bind(dc, wire):
    snapshot = source(dc, page_size=500).fetch()
    assert snapshot.complete, snapshot.errors
    assert len(snapshot.users) == USERS
    for i in (0, 7, 1234):  # the id is objectGUID as Samba itself prints it
        user = by_email(snapshot, f"{name(i)}@usersync.test")
        assert user.id == dc.guid_of(user_dn(name(i)))
        assert user.display_name == name(i).title()
    inactive = {u.email for u in snapshot.users.values() if not u.active}
    assert inactive == {f"{n}@usersync.test" for n in DISABLED_USERS}
    assert wire.binds == 1, "one bind for searches, pages and ranged reads alike"


def test_group_over_1500_members_is_read_in_ranges(dc, wire):
    snapshot = source(dc).fetch()
    assert snapshot.complete, snapshot.errors
    everyone = by_name(snapshot, "Everyone")
    assert len(snapshot.members[everyone.id]) == USERS
    assert emails(snapshot, snapshot.members[everyone.id]) == {
        u.email for u in snapshot.users.values()}
    asked = [a for _, attrs in wire.searches for a in attrs if a.lower().startswith("member;")]
    assert "member;range=0-1499" in asked and "member;range=1500-2999" in asked
    assert wire.binds == 1


@pytest.mark.parametrize("page_size", [1, 500, 5000])
def test_paged_results_read_everyone_whatever_the_page_size(dc, page_size):
    # 5000 is over AD's MaxPageSize (1000): the DC sends smaller pages and paging goes on
    snapshot = source(dc, page_size=page_size,
                      user_filter=f"(&(objectCategory=person)(objectClass=user)"
                                  f"(sAMAccountName=user0{'0' if page_size == 1 else ''}*))"
                      ).fetch()
    assert snapshot.complete, snapshot.errors
    assert len(snapshot.users) == (100 if page_size == 1 else 1000)


def test_nested_groups_keep_direct_members_and_parents(dc):
    snapshot = source(dc).fetch()
    engineering, backend, platform = (by_name(snapshot, g)
                                      for g in ("Engineering", "Backend", "Platform"))
    assert platform.parent_ids == (backend.id,)
    assert backend.parent_ids == (engineering.id,)
    assert engineering.parent_ids == by_name(snapshot, "Sales").parent_ids == ()
    assert emails(snapshot, snapshot.members[engineering.id]) == {
        f"{name(i)}@usersync.test" for i in range(10)}
    assert len(snapshot.members[platform.id]) == 5


def test_primary_group_members_come_from_primary_group_id(dc):
    # AD lists nobody in Domain Users' `member`: each user names it by primaryGroupID 513
    snapshot = source(dc, group_base_dn=f"CN=Users,{DOMAIN_DN}",
                      group_filter="(&(objectClass=group)(cn=Domain Users))").fetch()
    assert snapshot.complete, snapshot.errors
    domain_users = by_name(snapshot, "Domain Users")
    assert snapshot.members[domain_users.id] == set(snapshot.users)
    assert len(snapshot.users) == USERS
    ignored = source(dc, group_base_dn=f"CN=Users,{DOMAIN_DN}", primary_group_attribute="none",
                     group_filter="(&(objectClass=group)(cn=Domain Users))").fetch()
    assert ignored.members[by_name(ignored, "Domain Users").id] == set()


def test_in_chain_user_filter_selects_members_of_nested_groups(dc):
    in_engineering = f"(memberOf:{IN_CHAIN}:={group_dn('Engineering')})"
    snapshot = source(dc, user_filter=f"(&(objectCategory=person)(objectClass=user)"
                                      f"{in_engineering})").fetch()
    assert snapshot.complete, snapshot.errors
    assert {u.email for u in snapshot.users.values()} == {
        f"{name(i)}@usersync.test" for i in range(25)}  # direct, via Backend, via Platform
    assert by_email(snapshot, "user0005@usersync.test").active is False


def test_in_chain_group_filter_selects_a_subtree_of_groups(dc):
    under = f"(memberOf:{IN_CHAIN}:={group_dn('Engineering')})"
    snapshot = source(dc, group_filter=f"(&(objectClass=group)"
                                       f"(|(distinguishedName={group_dn('Engineering')}){under}))"
                      ).fetch()
    assert snapshot.complete, snapshot.errors
    assert {g.name for g in snapshot.groups.values()} == {"Engineering", "Backend", "Platform"}
    assert by_name(snapshot, "Platform").parent_ids == (by_name(snapshot, "Backend").id,)


def test_ldaps_with_the_dc_certificate(dc, wire):
    trusted = source(dc, url=dc.tls_url, ca_cert=dc.ca_pem)
    check = trusted.test_connection()
    assert check.ok, check.message
    snapshot = trusted.fetch()
    assert snapshot.complete and len(snapshot.users) == USERS


def test_ldaps_without_trusting_the_dc_certificate_is_a_tls_error(dc):
    check = source(dc, url=dc.tls_url).test_connection()
    assert not check.ok and check.reason == "unreachable"
    assert "TLS" in check.message


def test_start_tls_on_the_plain_port(dc):
    check = source(dc, start_tls=True, ca_cert=dc.ca_pem).test_connection()
    assert check.ok, check.message


def test_wrong_password_is_an_auth_error(dc):
    check = source(dc, bind_password="wrong").test_connection()
    assert not check.ok and check.reason == "auth" and "bind DN or password" in check.message
    assert "the password is wrong" in check.message  # AD's "data 52e"
    with pytest.raises(SourceAuthError):
        source(dc, bind_password="wrong").fetch()


def test_a_disabled_bind_account_is_named(dc):
    check = source(dc, bind_dn=DISABLED_SYNC_DN).test_connection()
    assert not check.ok and check.reason == "auth"
    assert "the bind account is disabled" in check.message  # AD's "data 533"


@pytest.fixture(scope="module")
def signing_dc():
    """A DC that enforces LDAP signing: no simple bind over plain ldap://."""
    require_samba()
    with SambaDC(seed(), strong_auth=True) as server:
        yield server


def test_a_dc_enforcing_ldap_signing_asks_for_tls(signing_dc):
    check = source(signing_dc).test_connection()
    assert not check.ok and check.reason == "auth"
    assert "ldaps://" in check.message and "StartTLS" in check.message
    secure = source(signing_dc, url=signing_dc.tls_url, ca_cert=signing_dc.ca_pem)
    assert secure.test_connection().ok
    assert source(signing_dc, start_tls=True, ca_cert=signing_dc.ca_pem).test_connection().ok


def test_objectguid_survives_a_rename(dc):
    before = source(dc).fetch()
    old = by_email(before, "user1598@usersync.test")
    admin = dc.admin()
    try:
        assert admin.modify_dn(user_dn("user1598"), "CN=Moved 1598"), admin.result
    finally:
        admin.unbind()
    after = source(dc).fetch()
    moved = by_email(after, "user1598@usersync.test")
    assert moved.id == old.id, "a new DN is the same person"
    assert moved.id in after.members[by_name(after, "Everyone").id]


def test_one_user_by_objectguid_with_direct_groups_and_their_parents(dc, wire):
    full = source(dc).fetch()
    ada = by_email(full, f"{name(12)}@usersync.test")  # in Backend (under Engineering), Everyone
    wire.binds = 0
    got = source(dc).fetch_user(ada.id)
    assert got.user == ada and wire.binds == 1
    groups = {g.name: g for g in got.groups}
    assert set(groups) == {"Backend", "Everyone"}
    assert groups["Backend"].parent_ids == (by_name(full, "Engineering").id,)
    assert source(dc).fetch_user("00000000-0000-4000-8000-000000000000").user is None
    assert source(dc).fetch_user("not-a-guid").user is None


def test_one_group_reads_ranged_members_and_disabled_users(dc, wire):
    full = source(dc).fetch()
    everyone = by_name(full, "Everyone")
    wire.binds = 0
    got = source(dc).fetch_group(everyone.id)
    assert wire.binds == 1
    assert got.group == everyone
    assert {u.id for u in got.members} == full.members[everyone.id]  # over 1,500: ranged
    assert {u.email for u in got.members if not u.active} == {
        f"{n}@usersync.test" for n in DISABLED_USERS}
