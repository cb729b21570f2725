"""The compact mapping and planner make the same plans as the sync core as first written."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from tests.sync import reference_mapping, reference_planner
from tests.sync.test_properties import policies, sites, snapshots
from workers.sync import mapping, planner
from workers.sync.model import Group, Snapshot, User
from workers.sync.plan import APPLY_ORDER, Plan
from workers.sync.planner import Current, Links
from workers.sync.policy import MappingPolicy, SyncPolicy, UserFilter


def assert_same_plan(new: Plan, old: Plan) -> None:
    """Same ops (as a multiset: order within a kind is unspecified), kinds in apply order,
    and the same notices, figures and group reports."""
    kinds = [op.kind for op in new.ops]
    assert kinds == sorted(kinds, key=APPLY_ORDER.index)
    assert len(new.ops) == len(old.ops)
    assert Counter(new.ops) == Counter(old.ops)
    assert new.summary() == old.summary()
    assert (new.notices, new.stats, new.adopted, new.skipped_groups, new.invite_domains) == (
        old.notices, old.stats, old.adopted, old.skipped_groups, old.invite_domains)


def both(snap: Snapshot, mapping_policy: MappingPolicy, current: Current, links: Links,
         sync_policy: SyncPolicy) -> tuple[Plan, Plan]:
    want, wanted = mapping.desired(snap, mapping_policy), reference_mapping.desired(
        snap, mapping_policy)
    assert want.users == wanted.users and list(want.users) == list(wanted.users)
    assert want.members == wanted.members and want.groups == wanted.groups
    assert want.notices == wanted.notices
    return (planner.plan(want, current, links, sync_policy),
            reference_planner.plan(wanted, current, links, sync_policy))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots(), policies(), sites())
def test_same_plan_as_the_first_planner_on_any_small_directory(snap, pols, state):
    mapping_policy, sync_policy = pols
    current, links = state
    assert_same_plan(*both(snap, mapping_policy, current, links, sync_policy))


def directory(rng: random.Random, users: int, groups: int) -> Snapshot:
    """A random directory with nesting (cycles too), disabled users, members unknown to the
    users list, users in no group, groups of one name and a group with a blank name."""
    snap = Snapshot()
    for i in range(users):
        email = f"user{i}@example.com" if rng.random() < 0.9 else f" User{i}@Example.com "
        snap.add_user(User(f"u{i}", email, f"User {i}" if i % 5 else "",
                           active=rng.random() < 0.9))
    for j in range(groups):
        parents = tuple(f"g{rng.randrange(groups)}" for _ in range(rng.choice((0, 0, 0, 1, 2))))
        name = f"team-{j % (groups - 3)}" if j % 17 else " "  # a few merged, one blank
        snap.add_group(Group(f"g{j}", name, parents))
        for _ in range(rng.randrange(12)):
            snap.add_member(f"g{j}", f"u{rng.randrange(users + 3)}")
    return snap


def synced_site(rng: random.Random, snap: Snapshot) -> tuple[Current, Links]:
    """A site that a first sync of part of `snap` left, with some drift since."""
    uids = list(snap.users)
    links = Links(users={uid: f"acc-{uid}" for uid in uids if rng.random() < 0.6})
    current = Current(accounts_by_email={f"user{i}@example.com": f"acc-u{i}"
                                         for i in range(len(uids)) if rng.random() < 0.2})
    for gid in snap.groups:
        if rng.random() < 0.5:
            site_gid = f"S-{gid}"
            current.groups[site_gid] = snap.groups[gid].name
            current.members[site_gid] = {f"acc-{rng.choice(uids)}" for _ in range(6)}
            links.groups[gid] = site_gid
    links.suspended = {acc for acc in links.users.values() if rng.random() < 0.05}
    return current, links


@pytest.mark.parametrize("seed", range(6))
def test_same_plan_as_the_first_planner_on_random_directories(seed):
    rng = random.Random(seed)
    snap = directory(rng, 400, 60)
    rule = UserFilter(active_only=seed % 2 == 0, members_only=seed % 3 != 0)
    mapping_policy = MappingPolicy(users=rule, default_groups=("everyone",) if seed % 2 else ())
    sync_policy = SyncPolicy(invite_products=("jira-software",),
                             deprovision=("none", "suspend", "remove_product_access")[seed % 3],
                             adopt_existing_groups=seed % 2 == 1)
    first = both(snap, mapping_policy, Current(), Links(), sync_policy)
    assert_same_plan(*first)
    current, links = synced_site(rng, snap)
    assert_same_plan(*both(snap, mapping_policy, current, links, sync_policy))
