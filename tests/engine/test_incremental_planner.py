"""The incremental planner against the full one (the reference) on random directories and deltas,
and the admin-protection step against planning again."""

from __future__ import annotations

import random

import pytest

from tests.engine.plan_sim import Site, mutate, ops_of, random_snapshot, stored
from tests.engine.test_desired_after import memberships_changed
from workers.sync import incremental, mapping, planner
from workers.sync.plan import ADD_MEMBER, REMOVE_MEMBER
from workers.sync.policy import from_connection
from workers.sync.protect import protect

POLICIES = [
    ("on_the_fly", {}, {}, [], "remove_from_groups", {}),
    ("on_the_fly", {"flatten_nested": False}, {"users": {"members_only": False}}, ["everyone"],
     "suspend", {"on_unmatched": "skip"}),
    ("on_the_fly", {}, {"users": {"active_only": True}}, [], "none",
     {"invite_domains": ["example.com"]}),
]


def converged(seed: int, policy_row: tuple) -> tuple:
    rng = random.Random(seed)
    policy = from_connection(*policy_row)
    old = random_snapshot(rng)
    site = Site(accounts={f"u{i}@example.com": f"acc-{i}" for i in range(0, 30, 2)})
    site.accounts.update({f"p{i}@example.com": f"acc-p{i}" for i in range(5)})
    old_desired = mapping.desired(old, policy.mapping)
    site.apply(planner.plan(old_desired, site.current(), site.links_copy(), policy.sync))
    return rng, policy, old, old_desired, site


@pytest.mark.parametrize("policy_row", POLICIES, ids=["default", "suspend-skip", "none-active"])
@pytest.mark.parametrize("seed", range(40))
def test_incremental_and_full_plans_agree(seed, policy_row):
    rng, policy, old, old_desired, site = converged(seed, policy_row)
    # the precondition: after applying its plan the site matches; a full plan is empty
    assert planner.plan(old_desired, site.current(), site.links_copy(), policy.sync).ops == []
    new = mutate(rng, old, rng.randrange(1, 6))
    new_desired = mapping.desired(new, policy.mapping)
    full = planner.plan(new_desired, site.current(), site.links_copy(), policy.sync)
    fast = incremental.plan_incremental(old_desired, new_desired, site.current(),
                                        site.links_copy(), policy.sync)
    assert ops_of(fast) == ops_of(full)
    # the users whose IdP record changed, given as the run finds them once
    hint = mapping.changed_keys(old.users, new.users)
    assert (incremental.touch(old_desired, new_desired, idp_changed=hint)
            == incremental.touch(old_desired, new_desired))


@pytest.mark.parametrize("policy_row", POLICIES, ids=["default", "suspend-skip", "none-active"])
@pytest.mark.parametrize("seed", range(30))
def test_plans_built_on_a_decoded_base_agree_with_full_ones(seed, policy_row):
    """As a run plans: the base read back from its blob, the change laid over it sharing the
    sets it left alone, the desired state rebuilt where the change reaches."""
    rng, policy, old, _, site = converged(seed, policy_row)
    base = stored(old)
    old_desired = mapping.desired(base, policy.mapping)
    for new in (memberships_changed(rng, base, rng.randrange(1, 8)),
                mutate(rng, base, rng.randrange(1, 6))):
        full = planner.plan(mapping.desired(new, policy.mapping), site.current(),
                            site.links_copy(), policy.sync)
        after = mapping.desired_after(old_desired, base, new, policy.mapping)
        fast = incremental.plan_incremental(old_desired, after, site.current(),
                                            site.links_copy(), policy.sync)
        assert ops_of(fast) == ops_of(full)


def test_an_unchanged_directory_touches_nothing():
    _, policy, old, old_desired, site = converged(3, POLICIES[0])
    again = mapping.desired(old, policy.mapping)
    assert incremental.touched(old_desired, again) == (set(), set())
    assert incremental.plan_incremental(old_desired, again, site.current(), site.links_copy(),
                                        policy.sync).ops == []


@pytest.mark.parametrize("seed", range(30))
def test_protect_equals_planning_again(seed):
    rng = random.Random(seed)
    policy = from_connection(*POLICIES[seed % 2])
    old = random_snapshot(rng)
    site = Site(accounts={f"u{i}@example.com": f"acc-{i}" for i in range(0, 30, 2)})
    desired = mapping.desired(old, policy.mapping)
    site.apply(planner.plan(desired, site.current(), site.links_copy(), policy.sync))
    new = mutate(rng, old, 8)
    desired = mapping.desired(new, policy.mapping)
    current = site.current()
    first = planner.plan(desired, current, site.links_copy(), policy.sync)
    losing = sorted({op.account_id for op in first.ops if op.kind == REMOVE_MEMBER})
    adding = sorted({op.group_id for op in first.ops if op.kind == ADD_MEMBER and op.group_id})
    admins = set(rng.sample(losing, min(2, len(losing))))
    admin_groups = set(rng.sample(adding, min(1, len(adding))))
    current.site_admins, current.admin_groups = admins, admin_groups
    again = planner.plan(desired, current, site.links_copy(), policy.sync)
    fast = protect(first, site_admins=admins, admin_groups=admin_groups, members=current.members)
    assert ops_of(fast) == ops_of(again)
    for key in ("managed_groups", "groups_skipped", "managed_memberships"):
        assert fast.stats[key] == again.stats[key], key


@pytest.mark.parametrize("seed", range(20))
def test_touched_users_are_exactly_those_new_gone_or_changed(seed):
    rng = random.Random(seed)
    before = {f"u{n}": (n, rng.random()) for n in range(30)}
    after = {k: v for k, v in before.items() if rng.random() > 0.2}  # some gone
    for k in rng.sample(sorted(after), 5):
        after[k] = (after[k][0], "changed")
    for k in rng.sample(sorted(before), 5):  # an equal value that is another object
        if k in after:
            after[k] = tuple(list(after[k]))
    after.update({f"new{n}": (n,) for n in range(rng.randrange(3))})
    expected = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    old, new = mapping.Desired(users=before), mapping.Desired(users=after)
    assert incremental.touched(old, new)[1] == expected
    old.idp_users, new.idp_users = before, after
    assert incremental.touched(old, new)[1] == expected
