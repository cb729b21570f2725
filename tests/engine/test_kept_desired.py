"""The desired state kept with a stored base (`kept_desired`) against `mapping.desired` of that
base (the reference), through a real encode and decode of the base, on random directories."""

from __future__ import annotations

import math
import random

import lz4.frame
import pytest

from tests.engine.plan_sim import mutate, random_snapshot
from tests.engine.test_desired_after import MAPPINGS, memberships_changed, same
from workers.sync import kept_desired, mapping, snapshots
from workers.sync.mapping import Desired
from workers.sync.model import Group, Snapshot, User
from workers.sync.policy import mapping_from_config


def stored(snapshot: Snapshot) -> Snapshot:
    """`snapshot` as the next run reads it back."""
    return snapshots.decode(snapshots.encode(snapshot), "cursor")


def kept(desired: Desired, snapshot: Snapshot, policy, basis: str = "b") -> Desired | None:
    base = stored(snapshot)
    blob = kept_desired.dump(desired, snapshot, policy, basis, listed_fraction=math.inf)
    return kept_desired.load(blob, base, policy, basis)


@pytest.mark.parametrize("name", MAPPINGS)
@pytest.mark.parametrize("seed", range(30))
def test_the_kept_desired_state_equals_the_base_mapped_again(seed, name):
    rng = random.Random(seed)
    policy = mapping_from_config(*MAPPINGS[name])
    snapshot = random_snapshot(rng, users=40, groups=10)
    if seed % 5 == 0:
        snapshot.groups["g1"] = Group("g1", "  ", snapshot.groups["g1"].parent_ids)
    desired = mapping.desired(snapshot, policy)
    blob = kept_desired.dump(desired, snapshot, policy, "b", listed_fraction=math.inf)
    base = stored(snapshot)
    again = kept_desired.load(blob, base, policy, "b")
    reference = mapping.desired(base, policy)
    same(again, reference)
    assert again.scope == reference.scope and again.fed == reference.fed
    assert again.holders == (mapping.holders_of(reference) if policy.users.members_only
                             else None)
    # the next run's change is then built on it exactly as on the reference
    for new in (memberships_changed(rng, base, rng.randrange(0, 6)),
                mutate(rng, base, rng.randrange(1, 6))):
        same(mapping.desired_after(again, base, new, policy), mapping.desired(new, policy))


@pytest.mark.parametrize("seed", range(20))
def test_a_desired_state_built_from_a_change_is_kept_too(seed):
    rng = random.Random(seed)
    policy = mapping_from_config(*MAPPINGS["default"])
    base = random_snapshot(rng, users=40, groups=10)
    new = memberships_changed(rng, base, 4)
    after = mapping.desired_after(mapping.desired(base, policy), base, new, policy)
    same(kept(after, new, policy), mapping.desired(stored(new), policy))


def flat(users: int = 6) -> Snapshot:
    s = Snapshot()
    for i in range(users):
        s.add_user(User(f"u{i}", f"u{i}@example.com", f"User {i}"))
    for g in ("a", "b"):
        s.add_group(Group(g, g))
    s.members["a"] = {"u0", "u1", "u2"}
    s.members["b"] = {"u3"}
    return s


def test_a_flat_group_shares_the_stored_set_and_lists_nothing():
    policy = mapping_from_config("on_the_fly", {}, {}, ["everyone"])
    snapshot = flat()
    desired = mapping.desired(snapshot, policy)
    doc = kept_desired.marshal.loads(lz4.frame.decompress(
        kept_desired.dump(desired, snapshot, policy, "b")))
    assert [kind for _, kind, _ in doc[3]] == [kept_desired.SHARED, kept_desired.SHARED,
                                               kept_desired.SYNCED]
    base = stored(snapshot)
    again = kept_desired.load(kept_desired.dump(desired, snapshot, policy, "b"), base, policy, "b")
    assert again.members["a"] is base.members["a"]  # the base's own set, not a copy
    assert again.members["everyone"] == {"u0", "u1", "u2", "u3"}


@pytest.mark.parametrize("blob", [b"", b"junk", lz4.frame.compress(b"junk"),
                                  lz4.frame.compress(kept_desired.marshal.dumps((1, 2)))])
def test_a_damaged_blob_means_mapping_the_base_again(blob):
    policy = mapping_from_config("on_the_fly", {}, {}, [])
    assert kept_desired.load(blob, flat(), policy, "b") is None


def test_another_basis_or_another_base_means_mapping_again():
    policy = mapping_from_config("on_the_fly", {}, {}, [])
    snapshot = flat()
    blob = kept_desired.dump(mapping.desired(snapshot, policy), snapshot, policy, "b")
    assert kept_desired.load(blob, stored(snapshot), policy, "other") is None
    other = flat()
    del other.members["b"], other.groups["b"]
    assert kept_desired.load(blob, other, policy, "b") is None  # a kept group it lacks


def test_merged_groups_are_worked_out_again_and_the_rest_listed_within_a_budget():
    policy = mapping_from_config("manual", {"rules": [{"idp_group": "a", "groups": ["x"]},
                                                      {"idp_group": "b", "groups": ["x"]},
                                                      {"idp_group": "c", "groups": ["y"]}]},
                                 {"active_only": False}, ["everyone"])
    snapshot = flat()
    snapshot.add_group(Group("c", "c"))
    snapshot.members["c"] = {"u4"}
    desired = mapping.desired(snapshot, policy)  # x merges a and b: worked out again
    doc = kept_desired.marshal.loads(lz4.frame.decompress(
        kept_desired.dump(desired, snapshot, policy, "b")))
    assert doc[3] == [("x", kept_desired.FED, 4), ("y", kept_desired.SHARED, "c"),
                      ("everyone", kept_desired.SYNCED, None)]
    desired.members["everyone"] = {"u0", "u5"}  # what a default group never has: listed
    blob = kept_desired.dump(desired, snapshot, policy, "b")
    again = kept_desired.load(blob, stored(snapshot), policy, "b")
    assert again.members["everyone"] == {"u0", "u5"}
    assert again.members["x"] == {"u0", "u1", "u2", "u3"}
    assert kept_desired.dump(desired, snapshot, policy, "b", listed_fraction=0.1,
                             min_listed=1) is None


def test_holders_kept_for_users_in_another_order_are_dropped_not_misread():
    policy = mapping_from_config("on_the_fly", {}, {}, [])
    snapshot = flat()
    desired = mapping.desired(snapshot, policy)
    blob = kept_desired.dump(desired, snapshot, policy, "b")
    base = stored(snapshot)
    assert kept_desired.load(blob, base, policy, "b").holders == {
        "u0": 1, "u1": 1, "u2": 1, "u3": 1}
    reordered = Snapshot(users=dict(reversed(base.users.items())), groups=base.groups,
                         members=base.members)
    again = kept_desired.load(blob, reordered, policy, "b")
    assert again is not None and again.holders is None
    assert mapping.desired_after(again, reordered, reordered, policy).users.keys() == {
        "u0", "u1", "u2", "u3"}
