"""The LDAP source against a real slapd: paging, nesting, disabled users, TLS and clear errors."""

from __future__ import annotations

import time
import uuid

import pytest
from marshmallow import ValidationError

from tests.sources.slapd import (
    LIMITED_DN,
    LIMITED_PASSWORD,
    READER_DN,
    READER_PAGE,
    READER_PASSWORD,
    SUFFIX,
    Slapd,
    group_dn,
    group_ldif,
    person_ldif,
    require_slapd,
    user_dn,
)
from workers.backoff import BackoffPolicy
from workers.sources.base import secret_fields
from workers.sources.ldap import (
    LdapSource,
    _next_range_start,
    decode_id,
    member_range,
    normalize_dn,
)
from workers.sources.ldap_settings import LdapSettingsSchema, resolve

USERS = 23
FAST = BackoffPolicy(initial=0.01, cap=0.02, max_retries=2)


def seed() -> str:
    people = "".join(person_ldif(f"u{i:02d}", given="User", family=f"N{i:02d}")
                     for i in range(USERS))
    people += person_ldif("locked", given="Locked", family="Out", locked=True)
    groups = group_ldif("engineering", [user_dn(f"u{i:02d}") for i in range(5)]
                        + [group_dn("backend")])
    groups += group_ldif("backend", [user_dn(f"u{i:02d}") for i in range(5, 10)])
    groups += group_ldif("everyone", [user_dn(f"u{i:02d}") for i in range(USERS)]
                         + [user_dn("locked")])
    return people + groups


@pytest.fixture(scope="module")
def slapd():
    require_slapd()
    with Slapd(seed()) as server:
        yield server


def settings(server: Slapd, **overrides) -> dict:
    base = {"preset": "openldap", "url": server.url, "bind_dn": READER_DN,
            "bind_password": READER_PASSWORD, "base_dn": SUFFIX,
            "user_base_dn": f"ou=people,{SUFFIX}", "group_base_dn": f"ou=groups,{SUFFIX}",
            "page_size": READER_PAGE, "timeout": 5}
    return base | overrides


def source(server: Slapd, **overrides) -> LdapSource:
    return LdapSource(settings(server, **overrides), allow_private=True, backoff=FAST,
                      sleep=lambda s: None)


def by_email(snapshot, email):
    return next(u for u in snapshot.users.values() if u.email == email)


def by_name(snapshot, name):
    return next(g for g in snapshot.groups.values() if g.name == name)


def test_full_fetch_pages_through_every_user(slapd):
    # the reader account may read at most READER_PAGE entries per page: only paging gets all
    snapshot = source(slapd).fetch()
    assert snapshot.complete, snapshot.errors
    assert len(snapshot.users) == USERS + 1
    user = by_email(snapshot, "u07@example.com")
    assert user.display_name == "User N07"
    assert str(uuid.UUID(user.id)) == user.id  # entryUUID, not the DN or the e-mail
    assert {g.name for g in snapshot.groups.values()} == {"engineering", "backend", "everyone"}
    assert len(snapshot.members[by_name(snapshot, "everyone").id]) == USERS + 1


def test_one_fetch_binds_once(slapd):
    before = slapd.binds()
    snapshot = source(slapd).fetch()
    assert snapshot.complete and len(snapshot.users) == USERS + 1
    deadline = time.monotonic() + 5  # slapd writes its stats line just after answering
    while slapd.binds() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert slapd.binds() - before == 1


def test_a_page_larger_than_the_server_allows_is_retried_then_marks_incomplete(slapd):
    slept: list[float] = []
    snapshot = LdapSource(settings(slapd, page_size=50), allow_private=True, backoff=FAST,
                          sleep=slept.append).fetch()
    assert not snapshot.complete
    assert any("users" in e and "page size" in e for e in snapshot.errors)
    # each of the three searches is retried max_retries times before giving up
    assert len(slept) == 3 * FAST.max_retries


def test_nested_groups_keep_direct_members_and_parents(slapd):
    snapshot = source(slapd).fetch()
    engineering, backend = by_name(snapshot, "engineering"), by_name(snapshot, "backend")
    assert backend.parent_ids == (engineering.id,)
    assert engineering.parent_ids == ()
    direct = {snapshot.users[i].email for i in snapshot.members[engineering.id]}
    assert direct == {f"u{i:02d}@example.com" for i in range(5)}
    assert len(snapshot.members[backend.id]) == 5


def test_locked_user_is_inactive(slapd):
    snapshot = source(slapd).fetch()
    assert by_email(snapshot, "locked@example.com").active is False
    assert by_email(snapshot, "u00@example.com").active is True


def test_custom_disabled_filter_and_attributes(slapd):
    snapshot = source(slapd, disabled_filter="(uid=u03)", display_name_attribute="sn",
                      id_attribute="uid").fetch()
    assert snapshot.users["u03"].active is False
    assert snapshot.users["locked"].active is True
    assert snapshot.users["u04"].display_name == "N04"


def test_server_side_size_limit_mid_fetch_marks_incomplete_without_raising(slapd):
    snapshot = source(slapd, bind_dn=LIMITED_DN, bind_password=LIMITED_PASSWORD).fetch()
    assert not snapshot.complete
    assert any("size limit" in e for e in snapshot.errors)
    assert 0 < len(snapshot.users) < USERS  # what was read before the failure is kept


def test_wrong_password_fails_fetch_with_auth_error(slapd):
    from workers.sources.base import SourceAuthError
    with pytest.raises(SourceAuthError):
        source(slapd, bind_password="wrong").fetch()


def test_missing_base_dn_is_named(slapd):
    check = source(slapd, user_base_dn=f"ou=nobody,{SUFFIX}").test_connection()
    assert not check.ok and check.reason == "not_found"
    assert f"ou=nobody,{SUFFIX}" in check.message


def test_unresolvable_host_says_dns():
    server_settings = {"url": "ldap://ldap.nonexistent.invalid:389", "bind_dn": "cn=x",
                       "bind_password": "y", "base_dn": SUFFIX, "timeout": 2}
    check = LdapSource(server_settings, allow_private=True).test_connection()
    assert not check.ok and check.reason == "unreachable"
    assert "DNS" in check.message


def test_private_address_refused_unless_operator_allows(slapd):
    check = LdapSource(settings(slapd)).test_connection()
    assert not check.ok and check.reason == "config"


def test_ldaps_with_self_signed_certificate_trusted_by_ca_setting(slapd):
    check = source(slapd, url=slapd.tls_url, ca_cert=slapd.cert_pem).test_connection()
    assert check.ok, check.message
    snapshot = source(slapd, url=slapd.tls_url, ca_cert=slapd.cert_pem).fetch()
    assert snapshot.complete and len(snapshot.users) == USERS + 1


def test_ldaps_with_untrusted_certificate_is_a_tls_error(slapd):
    check = source(slapd, url=slapd.tls_url).test_connection()
    assert not check.ok and check.reason == "unreachable"
    assert "TLS" in check.message


def test_start_tls_over_plain_port(slapd):
    check = source(slapd, start_tls=True, ca_cert=slapd.cert_pem).test_connection()
    assert check.ok, check.message


def test_settings_schema_flags_secret_and_validates():
    assert secret_fields(LdapSettingsSchema) == ["bind_password"]
    good = {"url": "ldaps://dc.corp.example:636", "bind_dn": "cn=s", "bind_password": "p",
            "base_dn": "dc=corp"}
    assert LdapSettingsSchema().load(good)["page_size"] == 500
    for bad in ({"url": "https://dc.corp.example"}, {"start_tls": True},
                {"user_filter": "(&(uid=a)"}, {"preset": "novell"}, {"bind_password": ""}):
        with pytest.raises(ValidationError):
            LdapSettingsSchema().load(good | bad)
    for field in LdapSettingsSchema._declared_fields.values():
        assert field.metadata.get("label")


def test_presets_fill_blanks_only():
    ad = resolve({"preset": "active_directory", "url": "ldaps://dc", "bind_dn": "cn=s",
                  "bind_password": "p", "base_dn": "dc=corp", "email_attribute": "userPrincipalName"})
    assert ad.id_attribute == "objectGUID"
    assert "1.2.840.113556.1.4.803:=2" in ad.disabled_filter
    assert ad.email_attribute == "userPrincipalName"
    assert ad.user_base_dn == ad.group_base_dn == "dc=corp"
    assert ad.primary_group_attribute == "primaryGroupID" and ad.member_range_size == 1500
    ldap = resolve({"url": "ldaps://ldap", "bind_dn": "cn=s", "bind_password": "p", "base_dn": "dc=x"})
    assert ldap.primary_group_attribute == "" and ldap.member_range_size == 0


def test_object_guid_is_decoded_little_endian():
    guid = uuid.UUID("d9f1b7a2-3c4e-4b5a-8f6d-1e2c3b4a5d6f")
    assert decode_id("objectGUID", guid.bytes_le) == str(guid)
    assert decode_id("entryUUID", b"abc") == "abc"
    assert decode_id("someBinaryId", b"\xff\xfe") == "fffe"


def test_binary_sids_and_primary_groups():
    import struct

    from workers.sources.ldap_primary import primary_group_sid, primary_memberships, sid_text

    user = b"\x01\x05" + (5).to_bytes(6, "big") + struct.pack("<5I", 21, 11, 22, 33, 1105)
    assert sid_text(user) == "S-1-5-21-11-22-33-1105"
    assert sid_text(b"\x01\x05short") is None
    assert primary_group_sid("S-1-5-21-11-22-33-1105", "513") == "S-1-5-21-11-22-33-513"
    assert primary_group_sid("S-1-5-21-11-22-33-1105", "x") is None
    groups = {"S-1-5-21-11-22-33-513": "g-domain-users"}
    assert list(primary_memberships([("u1", user, "513"), ("u2", user, "514")], groups)) == [
        ("g-domain-users", "u1")]


def test_member_range_parsing():
    assert member_range("member;range=0-1499") == (0, 1499)
    assert member_range("member;range=1500-*") == (1500, None)
    assert member_range("member") is None
    assert _next_range_start({"cn": [b"x"], "member;range=0-1499": []}, "member") == 1500
    assert _next_range_start({"member;range=1500-*": []}, "member") is None
    assert _next_range_start({"member": [b"a"]}, "member") is None


def test_dn_normalization_ignores_case_and_spacing():
    assert normalize_dn("CN=Ann Lee, OU=People,DC=Corp") == normalize_dn("cn=ann lee,ou=people,dc=corp")


def test_dn_normalization_keeps_escaped_commas():
    assert normalize_dn("CN=Lee\\, Ann,DC=Corp") == "cn=lee\\, ann,dc=corp"
