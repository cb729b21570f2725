"""Targeted runs: the users and groups a webhook named, read one by one from the IdP and planned
against the mirror; a source that cannot read them singly, or no stored base, means a whole run."""

from __future__ import annotations

import pytest

from sandbox.idps import scim
from tests.engine.harness import Stack
from tests.engine.sources_fixtures import person, team
from tests.engine.test_incremental import directory, served, stored
from workers.sources.scim_pull import ScimPullSource
from workers.sync import engine, snapshots
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice
from workers.sync.scope import Scope, ScopeError
from workers.sync.targeted import patched


def targeted_run(site: Stack, cid: int, scope: Scope):
    run_id = engine.start_run(site.env.db, cid, "webhook", False, scope=scope)
    engine.run_sync(site.env, run_id)
    return site.run(run_id)


def test_a_webhook_run_reads_and_plans_only_the_named_user(test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, scim, d) as (site, idp, cid):
        first = site.sync(cid)
        assert first.status == "succeeded"
        base = stored(cid)
        erin = person(d, "erin")
        team(d, "ops").member_ids.append(erin.id)  # not stamped: only the webhook tells us
        site.cloud.requests.clear()
        idp.requests = 0
        run = targeted_run(site, cid, Scope(users=frozenset({erin.id})))
        assert run.status == "succeeded", (run.reason, run.error)
        assert (run.trigger, run.scope) == ("webhook", {"users": [erin.id], "groups": []})
        assert (run.counts["fetch"], run.counts["planning"]) == ("targeted", "targeted")
        assert erin.email in site.members("ops")
        log = site.cloud.requests.all()
        assert not [r for r in log if r.path.endswith("/group/member")]
        assert len(log) <= len(site.cloud.requests.writes()) + 3, [r.path for r in log]
        assert idp.requests <= 4
        # the patched snapshot is what is stored (a delta over the base), on the old cursor
        now = stored(cid)
        kept = snapshots.decode_state(now.snapshot, now.delta, now.cursor)
        assert now.cursor == base.cursor and erin.id in kept.members[team(d, "ops").id]
        assert erin.id not in snapshots.decode_state(base.snapshot, base.delta, None).members[
            team(d, "ops").id]


def test_a_group_webhook_and_a_deleted_user(test_config, tmp_path):
    d = directory()
    with served(test_config, tmp_path, scim, d) as (site, idp, cid):
        site.sync(cid)
        backend, bob = team(d, "backend"), person(d, "bob")
        backend.member_ids.remove(bob.id)
        run = targeted_run(site, cid, Scope(groups=frozenset({backend.id})))
        assert run.status == "succeeded" and run.counts["planning"] == "targeted"
        assert bob.email not in site.members("backend")


def test_without_targeted_reads_the_run_is_whole(test_config, tmp_path, monkeypatch):
    # a SCIM server that offers no single-resource reads (the kind's capability switched off)
    monkeypatch.setattr(ScimPullSource, "supports_targeted", False)
    d = directory()
    with served(test_config, tmp_path, scim, d) as (site, idp, cid):
        site.sync(cid)
        run = targeted_run(site, cid, Scope(users=frozenset({person(d, "erin").id})))
        assert run.status == "succeeded" and run.counts["fetch"] != "targeted"


def test_patched_lays_slices_over_the_base():
    base = Snapshot(cursor="c1")
    base.add_user(User("u1", "a@example.com"))
    base.add_user(User("u2", "b@example.com"))
    base.add_group(Group("g1", "one"))
    base.add_group(Group("g2", "two", ("g1",)))
    base.add_member("g1", "u1")
    base.add_member("g2", "u2")
    out = patched(base, [UserSlice("u1", User("u1", "new@example.com"), (Group("g2", "two"),)),
                         UserSlice("u2", None)],
                  [GroupSlice("g3", Group("g3", "three"), (User("u9", "z@example.com"),))])
    assert out.members == {"g1": set(), "g2": {"u1"}, "g3": {"u9"}}
    assert set(out.users) == {"u1", "u9"} and out.users["u1"].email == "new@example.com"
    assert out.groups["g2"].parent_ids == ("g1",) and out.cursor == "c1"
    assert base.members == {"g1": {"u1"}, "g2": {"u2"}}  # the base is untouched


def test_scope_json():
    scope = Scope(users=frozenset({"b", "a"}), groups=frozenset({"g"}))
    assert scope.to_json() == {"users": ["a", "b"], "groups": ["g"]}
    assert Scope.from_json(scope.to_json()) == scope
    assert Scope.from_json(None).empty and Scope().empty
    for bad in ({"users": "a"}, {"people": []}, ["a"], {"users": [1]}):
        with pytest.raises(ScopeError):
            Scope.from_json(bad)


def test_patched_copies_only_the_member_sets_it_changes():
    base = Snapshot(cursor="c1")
    for uid in ("u1", "u2", "u3"):
        base.add_user(User(uid, f"{uid}@example.com"))
    for gid in ("g1", "g2", "g3", "g4"):
        base.add_group(Group(gid, gid))
    base.members.update({"g1": {"u1", "u2"}, "g2": {"u2"}, "g3": {"u3"}, "g4": {"u1"}})
    before = {gid: set(ids) for gid, ids in base.members.items()}
    out = patched(base, [UserSlice("u2", User("u2", "u2@example.com"), (Group("g3", "g3"),
                                                                       Group("g5", "g5")))],
                  [GroupSlice("g4", Group("g4", "g4"), (User("u3", "u3@example.com"),))])
    assert out.members == {"g1": {"u1"}, "g2": set(), "g3": {"u2", "u3"}, "g4": {"u3"},
                           "g5": {"u2"}}
    assert base.members == before  # nothing changed in place
    untouched = Snapshot(members={"g9": {"u9"}}, users={"u9": User("u9", "z@example.com")})
    again = patched(untouched, [UserSlice("u1", None)], [])
    assert again.members["g9"] is untouched.members["g9"]  # shared, not copied
