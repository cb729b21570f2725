"""Table tests of the guard: incomplete fetch, sudden empty directory, removal thresholds."""

from __future__ import annotations

import pytest

from tests.sync.build import make_plan, site, snapshot
from workers.sync.guard import ABORT, HOLD, PROCEED, check
from workers.sync.plan import ADD_MEMBER, REMOVE_MEMBER, SUSPEND_ACCESS, Op, Plan
from workers.sync.planner import Links
from workers.sync.policy import GuardPolicy


def removing(memberships: int, removals: int, accounts: int | None = None, users: int = 100,
             suspends: int = 0) -> Plan:
    """A plan removing `removals` memberships spread over `accounts` distinct accounts."""
    accounts = accounts or removals
    ops = [Op(REMOVE_MEMBER, group_id=f"g{i}", account_id=f"a{i % accounts}") for i in range(removals)]
    ops += [Op(SUSPEND_ACCESS, account_id=f"s{i}") for i in range(suspends)]
    return Plan(ops=ops, stats={"managed_memberships": memberships, "desired_users": users})


@pytest.mark.parametrize("memberships, removals, accounts, decision", [
    (1000, 100, 10, PROCEED),  # exactly 10 %
    (1000, 101, 10, HOLD),  # just over
    (30, 3, 3, PROCEED),  # 10 % where 0.1 * 30 is not exact in binary
    (70, 7, 7, PROCEED),
    (70, 8, 8, HOLD),
    (10_000, 50, 50, PROCEED),  # exactly 50 users
    (10_000, 51, 51, HOLD),  # 51 users
    (10_000, 200, 50, PROCEED),  # many removals, few users, under 10 %
    (0, 0, None, PROCEED),
    (0, 1, 1, HOLD),  # removals with nothing managed
])
def test_removal_thresholds(memberships, removals, accounts, decision):
    verdict = check(removing(memberships, removals, accounts), complete=True,
                    previous_user_count=100, policy=GuardPolicy())
    assert verdict.decision == decision, verdict.reason
    assert verdict.removals == removals


def test_suspensions_count_as_users_affected():
    policy = GuardPolicy(max_users_affected=5)
    assert check(removing(1000, 5, suspends=0), complete=True, previous_user_count=100,
                 policy=policy).proceed
    verdict = check(removing(1000, 5, suspends=1), complete=True, previous_user_count=100, policy=policy)
    assert verdict.decision == HOLD and verdict.users_affected == 6 and "6 users" in verdict.reason


def test_thresholds_are_configurable():
    plan = removing(100, 30, 30)
    assert check(plan, complete=True, previous_user_count=100, policy=GuardPolicy(
        max_removal_percent=30, max_users_affected=30)).proceed
    assert check(plan, complete=True, previous_user_count=100, policy=GuardPolicy(
        max_removal_percent=29.9, max_users_affected=30)).decision == HOLD


def test_incomplete_fetch_aborts_even_a_harmless_plan():
    plan = Plan(ops=[Op(ADD_MEMBER, group_id="g", account_id="a")], stats={"desired_users": 5})
    verdict = check(plan, complete=False, previous_user_count=5, policy=GuardPolicy(),
                    errors=["groups page 3: HTTP 503"])
    assert verdict.decision == ABORT
    assert "HTTP 503" in verdict.reason and "Nothing was changed" in verdict.reason


@pytest.mark.parametrize("previous, decision", [(None, PROCEED), (0, PROCEED), (9, PROCEED),
                                                 (10, HOLD), (5000, HOLD)])
def test_sudden_empty_directory_is_held(previous, decision):
    verdict = check(Plan(stats={"desired_users": 0, "managed_memberships": 0}), complete=True,
                    previous_user_count=previous, policy=GuardPolicy())
    assert verdict.decision == decision, verdict.reason


def test_proceed_reason_summarises_the_plan():
    verdict = check(removing(1000, 2), complete=True, previous_user_count=1, policy=GuardPolicy())
    assert verdict.reason == "Within limits: 2 remove member."
    assert check(Plan(stats={"desired_users": 3}), complete=True, previous_user_count=3,
                 policy=GuardPolicy()).reason.startswith("Already in step")


def test_planned_mass_removal_after_a_partial_read_is_held_then_aborted_if_incomplete():
    users = {f"u{i}": f"p{i}@corp.com" for i in range(20)}
    links = Links(users={uid: f"a{uid}" for uid in users}, groups={"g": "G"})
    current = site({"G": ("Staff", {f"a{uid}" for uid in users})})
    snap = snapshot(users, {"g": ("Staff", ["u0", "u1"])})
    plan = make_plan(snap, current, links)
    assert plan.removals == 18 and plan.stats["managed_memberships"] == 20
    assert check(plan, complete=True, previous_user_count=20, policy=GuardPolicy()).decision == HOLD
    snap.mark_incomplete("members of Staff: page 2 timed out")
    assert check(plan, complete=snap.complete, previous_user_count=20, policy=GuardPolicy(),
                 errors=snap.errors).decision == ABORT


def test_idp_returning_nobody_is_held_by_the_planned_figures():
    links = Links(users={"u1": "a1"}, groups={"g": "G"})
    plan = make_plan(snapshot({}, {"g": ("Staff", [])}), site({"G": ("Staff", {"a1"})}), links)
    assert plan.stats["desired_users"] == 0
    verdict = check(plan, complete=True, previous_user_count=400, policy=GuardPolicy())
    assert verdict.decision == HOLD and "no users" in verdict.reason
