"""`mapping.desired_after` (the desired state rebuilt only where an IdP change reaches) against
`mapping.desired` (the reference) on random directories, changes and mappings."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from tests.engine.plan_sim import mutate, random_snapshot, stored
from workers.sync import mapping
from workers.sync.mapping import Desired
from workers.sync.model import Group, Snapshot, User
from workers.sync.policy import mapping_from_config

MAPPINGS = {
    "default": ("on_the_fly", {}, {}, []),
    "flat-everyone": ("on_the_fly", {"flatten_nested": False}, {"members_only": False},
                      ["everyone"]),
    "all-users-defaults": ("on_the_fly", {"prefix": "idp-"},
                           {"active_only": False, "members_only": False}, ["all", "ALL"]),
    "domain-filtered": ("on_the_fly", {"case": "lower"},
                        {"email_domains": ["example.com"], "exclude": ["team-1"]}, ["staff"]),
    "manual-merged": ("manual", {"rules": [{"idp_group": "team-0", "groups": ["eng"]},
                                           {"idp_group": "g3", "groups": ["eng", "ops"]},
                                           {"idp_group": "team-5", "groups": ["ops"]},
                                           {"idp_group": "team-9", "groups": ["nobody"]}]},
                      {"active_only": False}, ["all"]),
    "default-also-fed": ("on_the_fly", {}, {}, ["team-2"]),
}


def memberships_changed(rng: random.Random, old: Snapshot, changes: int) -> Snapshot:
    """`old` with members joining and leaving, the unchanged sets shared (as a change read
    leaves them), and now and then a user's name or e-mail changed."""
    new = Snapshot(users=dict(old.users), groups=dict(old.groups), members=dict(old.members))
    uids, gids = sorted(old.users), sorted(old.groups)
    for _ in range(changes):
        gid = rng.choice(gids)
        ids = set(new.members[gid])
        if ids and rng.random() < 0.5:
            ids.discard(rng.choice(sorted(ids)))
        else:
            ids.add(rng.choice(uids))
        new.members[gid] = ids
        if rng.random() < 0.2:
            u = new.users[rng.choice(uids)]
            new.users[u.id] = User(u.id, f"moved-{u.email}", "Renamed", u.active)
    return new


def same(a: Desired, b: Desired) -> None:
    assert list(a.users.items()) == list(b.users.items())  # the order invites come out in
    assert list(a.groups.items()) == list(b.groups.items())
    assert list(a.members.items()) == list(b.members.items())
    assert a.idp_users == b.idp_users
    assert a.notices == b.notices


@pytest.mark.parametrize("from_blob", [False, True], ids=["built", "decoded"])
@pytest.mark.parametrize("name", MAPPINGS)
@pytest.mark.parametrize("seed", range(40))
def test_desired_after_equals_desired(seed, name, from_blob):
    rng = random.Random(seed)
    policy = mapping_from_config(*MAPPINGS[name])
    base = random_snapshot(rng, users=40, groups=10)
    if seed % 5 == 0:  # an IdP group with a blank name maps to no Atlassian group
        base.groups["g1"] = Group("g1", "  ", base.groups["g1"].parent_ids)
    if from_blob:  # as a run reads its base: member sets built only when looked into
        base = stored(base)
    old = mapping.desired(base, policy)
    for new in (memberships_changed(rng, base, rng.randrange(0, 6)),
                mutate(rng, base, rng.randrange(1, 6))):
        reference = mapping.desired(new, policy)
        same(mapping.desired_after(old, base, new, policy), reference)
        hinted = mapping.desired_after(old, base, new, policy,
                                       changed_users=mapping.changed_keys(base.users, new.users))
        same(hinted, reference)
        if policy.users.members_only:  # told who holds whom, leavers come from the change alone
            held = replace(old, holders=mapping.holders_of(old))
            after = mapping.desired_after(held, base, new, policy)
            same(after, reference)
            assert after.holders in (None, mapping.holders_of(reference))


def test_a_change_of_memberships_rebuilds_only_the_groups_it_reaches():
    base = Snapshot()
    for i in range(6):
        base.add_user(User(f"u{i}", f"u{i}@example.com", f"User {i}"))
    base.add_group(Group("top", "top"))
    base.add_group(Group("child", "child", ("top",)))
    base.add_group(Group("other", "other"))
    base.members.update(top={"u0"}, child={"u1"}, other={"u2", "u3"})
    policy = mapping_from_config("on_the_fly", {}, {}, ["everyone"])
    old = mapping.desired(base, policy)
    new = Snapshot(users=base.users, groups=base.groups,
                   members={**base.members, "child": {"u1", "u4"}})
    after = mapping.desired_after(old, base, new, policy)
    assert after.members["other"] is old.members["other"]  # not reached: shared, not rebuilt
    assert after.members["top"] == {"u0", "u1", "u4"} and after.members["child"] == {"u1", "u4"}
    assert "u4" in after.users and after.members["everyone"] == {"u0", "u1", "u2", "u3", "u4"}
    # the last group holding u3 lets go of them: no longer synced anywhere
    gone = Snapshot(users=base.users, groups=base.groups, members={**base.members, "other": {"u2"}})
    after = mapping.desired_after(old, base, gone, policy)
    assert "u3" not in after.users and "u3" not in after.members["everyone"]
    same(after, mapping.desired(gone, policy))
