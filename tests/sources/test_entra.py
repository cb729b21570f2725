"""Entra ID source against the sandbox Graph over HTTP."""

from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError

from sandbox.idps import entra as sandbox
from sandbox.idps.common import ClientCertificate
from sandbox.idps.directory import Directory
from tests.sources.conftest import (
    TINY_BACKOFF,
    assert_form_metadata,
    assert_matches,
)
from workers.sources.base import secret_fields
from workers.sources.entra import EntraSettings, EntraSource


def make_source(settings: dict, sleeps=None, **extra) -> EntraSource:
    loaded = EntraSettings().load({**settings, **extra})
    return EntraSource(loaded, allow_private=True, backoff=TINY_BACKOFF, sleep=sleeps)


@pytest.fixture
def directory() -> Directory:
    """Large enough for several 999-item pages of users and of one group's members."""
    d = Directory.generate(users=2100, groups=8, memberships=80, seed=5, nested_fraction=0.5)
    big = d.team_list()[1]
    big.member_ids = list(d.people)[:1500]
    return d


def test_certificate_credentials(directory):
    with sandbox.serve(directory, certificate=True) as idp:
        assert "client_secret" not in idp.settings
        assert_matches(make_source(idp.settings).fetch(), directory)
        other = ClientCertificate()
        check = make_source({**idp.settings, "certificate": other.certificate_pem,
                             "private_key": other.private_pem}).test_connection()
        assert (check.ok, check.reason) == (False, "auth")
        assert "AADSTS700027" in check.message and "x5t" in check.message


def test_transitive_option_flattens(directory):
    with sandbox.serve(directory) as idp:
        snapshot = make_source(idp.settings, transitive=True).fetch()
        assert snapshot.complete and snapshot.cursor is None
        parent = next(t for t in directory.teams.values()
                      if directory.children(t.id) and directory.children(t.id)[0].member_ids)
        child = directory.children(parent.id)[0]
        assert set(child.member_ids) <= snapshot.members[parent.id]
        assert all(not g.parent_ids for g in snapshot.groups.values())


def test_unknown_tenant_and_bad_secret(directory):
    with sandbox.serve(directory) as idp:
        check = make_source({**idp.settings, "tenant": "nowhere.example"}).test_connection()
        assert (check.ok, check.reason) == (False, "not_found")
        assert "AADSTS90002" in check.message
        check = make_source({**idp.settings, "client_secret": "wrong"}).test_connection()
        assert (check.ok, check.reason) == (False, "auth")
        assert "Invalid client secret" in check.message
        assert make_source(idp.settings).test_connection().ok


def test_missing_permission_is_explained(directory):
    with sandbox.serve(directory, permissions=("User.Read.All",)) as idp:
        check = make_source(idp.settings).test_connection()
        assert (check.ok, check.reason) == (False, "permission")
        assert "Insufficient privileges" in check.message


def test_incremental_follows_delta_links(directory):
    with sandbox.serve(directory) as idp:
        source = make_source(idp.settings)
        first = source.fetch()
        teams = directory.team_list()
        newcomer = directory.add_person("newcomer")
        teams[0].member_ids.append(newcomer.id)
        teams[1].member_ids = teams[1].member_ids[30:]  # 30 removals span several items
        leaver = directory.team_list()[2].member_ids[0]
        del directory.people[leaver]
        teams[3].name = "renamed"
        child = directory.add_team("new-child", parent_id=teams[0].id)
        child.member_ids = [newcomer.id]
        del directory.teams[teams[4].id]
        for t in directory.teams.values():
            if t.parent_id == teams[4].id:
                t.parent_id = None
        idp.reset()
        second = source.fetch_changes(first, first.cursor)
        assert_matches(second, directory)
        assert idp.requests == 2
        assert json.loads(second.cursor) != json.loads(first.cursor)
        assert source.fetch_changes(second, second.cursor).users == second.users


def test_settings_schema_certificate_checks():
    one, two = ClientCertificate(), ClientCertificate()
    base = {"tenant": "t", "client_id": "c"}
    with pytest.raises(ValidationError, match="client secret, or a certificate"):
        EntraSettings().load(base)
    with pytest.raises(ValidationError, match="does not belong to the certificate"):
        EntraSettings().load({**base, "certificate": one.certificate_pem,
                              "private_key": two.private_pem})
    with pytest.raises(ValidationError, match="Not a PEM certificate"):
        EntraSettings().load({**base, "certificate": "junk", "private_key": one.private_pem})
    loaded = EntraSettings().load({**base, "certificate": one.certificate_pem,
                                   "private_key": one.private_pem})
    assert loaded["client_secret"] is None


def test_settings_schema():
    assert secret_fields(EntraSettings) == ["client_secret", "private_key"]
    loaded = EntraSettings().load({"tenant": "t", "client_id": "c", "client_secret": "s"})
    assert loaded["graph_url"] == "https://graph.microsoft.com"
    with pytest.raises(ValidationError) as err:
        EntraSettings().load({"tenant": "", "graph_url": "ftp://x"})
    assert {"tenant", "client_id", "graph_url"} <= set(err.value.messages)
    assert_form_metadata(EntraSettings)


def test_a_change_read_leaves_its_base_as_it_was_and_shares_what_it_did_not_change():
    from workers.sources.entra import GROUP_TYPE, _applied
    from workers.sync.model import Group, Snapshot, User

    base = Snapshot(cursor="old")
    for uid in ("u1", "u2", "u3"):
        base.add_user(User(uid, f"{uid}@example.com"))
    for gid in ("g1", "g2", "g3"):
        base.add_group(Group(gid, gid))
    base.members.update({"g1": {"u1", "u2"}, "g2": {"u2", "u3"}, "g3": {"u3"}})
    before = {gid: set(ids) for gid, ids in base.members.items()}
    users = [{"id": "u1", "@removed": {"reason": "deleted"}}]
    groups = [{"id": "g2", "displayName": "g2", "members@delta": [
                  {"id": "u3", "@removed": {}}, {"id": "u1"}, {"id": "g3", "@odata.type": GROUP_TYPE}]},
              {"id": "g3", "displayName": "g3", "members@delta": [
                  {"id": "g1", "@odata.type": GROUP_TYPE}]},
              {"id": "g4", "displayName": "four"}]
    out = _applied(base, users, groups, "new", lambda: pytest.fail("no full read"))
    assert out.members == {"g1": {"u2"}, "g2": {"u1", "u2"}, "g3": {"u3"}, "g4": set()}
    assert out.groups["g3"].parent_ids == ("g2",) and out.groups["g1"].parent_ids == ("g3",)
    assert base.members == before and base.cursor == "old"  # nothing changed in place
    assert out.members["g3"] is base.members["g3"]  # only parents changed: the set is shared
