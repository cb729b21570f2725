"""Table tests of the planner: managed scope, links, invites, deprovisioning, apply order."""

from __future__ import annotations

import pytest

from tests.sync.build import make_plan, site, snapshot, triples
from tests.sync.state import apply_to_state
from workers.sync import mapping, planner
from workers.sync.plan import (
    ADD_MEMBER,
    APPLY_ORDER,
    CREATE_GROUP,
    INVITE_USER,
    LINK_GROUP,
    LINK_USER,
    REMOVE_MEMBER,
    RESTORE_ACCESS,
    SUSPEND_ACCESS,
)
from workers.sync.planner import Links
from workers.sync.policy import MappingPolicy, SyncPolicy, UserFilter

USERS = {"u1": "ann@corp.com", "u2": "bob@corp.com", "u3": "cy@corp.com"}
GROUPS = {"g1": ("Engineering", ["u1", "u2"]), "g2": ("Sales", ["u3"])}


def linked() -> Links:
    return Links(users={"u1": "a1", "u2": "a2", "u3": "a3"}, groups={"g1": "E", "g2": "S"})


def synced_site(**extra_groups) -> planner.Current:
    """The site after a full sync of USERS/GROUPS, plus a foreign member and unmanaged groups."""
    return site({"E": ("Engineering", {"a1", "a2", "foreign"}), "S": ("Sales", {"a3"}),
                 "ADM": ("site-admins", {"a1", "a2"}), "JSW": ("jira-software-users", {"a1", "a2", "a3"}),
                 **extra_groups})


def test_in_step_means_empty_plan():
    assert make_plan(snapshot(USERS, GROUPS), synced_site(), linked()).ops == []


def test_membership_change_adds_and_removes_only_in_managed_groups():
    groups = {"g1": ("Engineering", ["u1", "u3"]), "g2": ("Sales", ["u3"])}
    plan = make_plan(snapshot(USERS, groups), synced_site(), linked())
    assert triples(plan) == {(ADD_MEMBER, "E", "a3"), (REMOVE_MEMBER, "E", "a2")}


def test_foreign_accounts_in_managed_groups_are_never_removed():
    plan = make_plan(snapshot(USERS, {"g1": ("Engineering", []), "g2": ("Sales", ["u3"])}),
                     synced_site(), linked())
    assert triples(plan) == {(REMOVE_MEMBER, "E", "a1"), (REMOVE_MEMBER, "E", "a2")}


def test_departed_user_leaves_managed_groups_not_others():
    plan = make_plan(snapshot({"u1": USERS["u1"], "u3": USERS["u3"]}, GROUPS), synced_site(), linked())
    assert triples(plan) == {(REMOVE_MEMBER, "E", "a2")}
    assert plan.ops[0].reason == "user left the IdP"


@pytest.mark.parametrize("protect", ["site_admin", "policy_list"])
def test_protected_accounts_never_lose_memberships(protect):
    current = synced_site()
    policy = SyncPolicy(deprovision="suspend")
    if protect == "site_admin":
        current.site_admins = {"a2"}
    else:
        policy = SyncPolicy(deprovision="suspend", protected_account_ids=frozenset({"a2"}))
    plan = make_plan(snapshot(USERS, GROUPS, inactive=("u2",)), current, linked(), sync_policy=policy)
    assert plan.ops == []
    assert [n.code for n in plan.notices] == ["protected_kept"]


@pytest.mark.parametrize("departure", ["disabled", "left"])
@pytest.mark.parametrize("mode, expected", [
    ("remove_from_groups", {(REMOVE_MEMBER, "E", "a2")}),
    ("remove_product_access", {(REMOVE_MEMBER, "E", "a2"), (REMOVE_MEMBER, "JSW", "a2")}),
    ("suspend", {(REMOVE_MEMBER, "E", "a2"), (SUSPEND_ACCESS, None, "a2")}),
    ("none", set()),
])
def test_deprovision_policies(mode, expected, departure):
    users = USERS if departure == "disabled" else {"u1": USERS["u1"], "u3": USERS["u3"]}
    snap = snapshot(users, GROUPS, inactive=("u2",))
    policy = SyncPolicy(deprovision=mode, product_access_groups=("Jira-Software-Users", "missing"))
    plan = make_plan(snap, synced_site(), linked(), sync_policy=policy)
    assert triples(plan) == expected
    word = "disabled in" if departure == "disabled" else "left"
    assert all(word in op.reason for op in plan.ops)


def test_suspended_account_is_not_suspended_twice():
    links = linked()
    links.suspended = {"a2"}
    current = synced_site(E=("Engineering", {"a1"}))
    snap = snapshot(USERS, GROUPS, inactive=("u2",))
    assert make_plan(snap, current, links, sync_policy=SyncPolicy(deprovision="suspend")).ops == []


def test_user_filtered_out_loses_managed_groups_but_is_not_suspended():
    policy = MappingPolicy(users=UserFilter(email_domains=("corp.com",)))
    users = {**USERS, "u2": "bob@elsewhere.net"}
    plan = make_plan(snapshot(users, GROUPS), synced_site(), linked(), policy,
                     SyncPolicy(deprovision="suspend"))
    assert triples(plan) == {(REMOVE_MEMBER, "E", "a2")}
    assert plan.ops[0].reason == "user outside the sync filters"


def test_reactivation_restores_access_and_exactly_the_idp_memberships():
    links = linked()
    links.suspended = {"a2"}
    current = synced_site(E=("Engineering", {"a1"}))
    groups = {"g1": ("Engineering", ["u1"]), "g2": ("Sales", ["u3", "u2"])}
    plan = make_plan(snapshot(USERS, groups), current, links, sync_policy=SyncPolicy(deprovision="suspend"))
    assert triples(plan) == {(RESTORE_ACCESS, None, "a2"), (ADD_MEMBER, "S", "a2")}
    assert [op.kind for op in plan.ops] == [RESTORE_ACCESS, ADD_MEMBER]


def test_group_rename_in_idp_is_followed_not_duplicated():
    groups = {"g1": ("Platform Engineering", ["u1", "u2"]), "g2": ("Sales", ["u3"])}
    plan = make_plan(snapshot(USERS, groups), synced_site(), linked())
    assert plan.ops == []
    assert [n.code for n in plan.notices] == ["rename_followed"]
    groups["g1"] = ("Platform Engineering", ["u1"])
    plan = make_plan(snapshot(USERS, groups), synced_site(), linked())
    assert triples(plan) == {(REMOVE_MEMBER, "E", "a2")}


def test_email_change_in_idp_is_followed_by_the_link():
    users = {**USERS, "u1": "ann.new@corp.com"}
    current = synced_site()
    current.accounts_by_email = {"ann.new@corp.com": "someone-else"}
    assert make_plan(snapshot(users, GROUPS), current, linked()).ops == []


def test_unlinked_user_is_linked_by_email_case_insensitively():
    links = linked()
    del links.users["u3"]
    current = synced_site(S=("Sales", set()))
    current.accounts_by_email = {"cy@corp.com": "a3"}
    plan = make_plan(snapshot({**USERS, "u3": "Cy@Corp.COM"}, GROUPS), current, links)
    assert triples(plan) == {(LINK_USER, None, "a3"), (ADD_MEMBER, "S", "a3")}
    assert [op.kind for op in plan.ops] == [LINK_USER, ADD_MEMBER]


@pytest.mark.parametrize("on_unmatched", ["invite", "skip"])
def test_no_account_invites_or_skips_per_setting(on_unmatched):
    links = linked()
    del links.users["u3"]
    policy = SyncPolicy(on_unmatched=on_unmatched, invite_products=("jira-software",))
    plan = make_plan(snapshot(USERS, GROUPS), synced_site(S=("Sales", set())), links,
                     sync_policy=policy)
    if on_unmatched == "invite":
        invite, add = plan.ops
        assert (invite.kind, invite.email, invite.products) == (INVITE_USER, "cy@corp.com",
                                                                 ("jira-software",))
        assert (add.kind, add.group_id, add.account_id, add.idp_user_id) == (ADD_MEMBER, "S", None, "u3")
    else:
        assert plan.ops == []
        assert [n.code for n in plan.notices] == ["user_skipped"]


def test_account_linked_to_another_synced_user_is_not_taken():
    snap = snapshot({**USERS, "u4": "ann@corp.com"}, {**GROUPS, "g2": ("Sales", ["u3", "u4"])})
    current = synced_site()
    current.accounts_by_email = {"ann@corp.com": "a1"}
    plan = make_plan(snap, current, linked(), sync_policy=SyncPolicy(on_unmatched="skip"))
    assert plan.ops == []
    assert [n.code for n in plan.notices] == ["account_taken"]


def test_user_recreated_in_idp_is_relinked_not_deprovisioned():
    users = {"u1": USERS["u1"], "u3": USERS["u3"], "u9": "bob@corp.com"}
    groups = {"g1": ("Engineering", ["u1", "u9"]), "g2": ("Sales", ["u3"])}
    current = synced_site()
    current.accounts_by_email = {"bob@corp.com": "a2"}
    plan = make_plan(snapshot(users, groups), current, linked(), sync_policy=SyncPolicy(deprovision="suspend"))
    assert triples(plan) == {(LINK_USER, None, "a2")}


def test_first_sync_creates_groups_and_adds_reference_them():
    plan = make_plan(snapshot(USERS, GROUPS), site(emails={"ann@corp.com": "a1"}), Links())
    creates = {op.group_ref: op for op in plan.ops if op.kind == CREATE_GROUP}
    assert {op.group_name for op in creates.values()} == {"Engineering", "Sales"}
    adds = [op for op in plan.ops if op.kind == ADD_MEMBER]
    assert len(adds) == 3 and all(op.group_id is None and op.group_ref in creates for op in adds)
    assert {(op.idp_group_id, op.group_ref) for op in plan.ops if op.kind == LINK_GROUP} == {
        ("g1", "engineering"), ("g2", "sales")}
    ranks = [APPLY_ORDER.index(op.kind) for op in plan.ops]
    assert ranks == sorted(ranks)


def test_existing_group_of_the_same_name_is_adopted_when_the_connection_allows_it():
    plan = make_plan(snapshot(USERS, GROUPS), site({"X": ("ENGINEERING", set()), "S": ("Sales", set())}),
                     Links(users=linked().users), sync_policy=SyncPolicy(adopt_existing_groups=True))
    assert {op.kind for op in plan.ops} == {LINK_GROUP, ADD_MEMBER}
    assert {(op.idp_group_id, op.group_id) for op in plan.ops if op.kind == LINK_GROUP} == {
        ("g1", "X"), ("g2", "S")}
    assert sorted(plan.adopted) == ["ENGINEERING", "Sales"]
    assert plan.skipped_groups == []


def test_existing_group_of_the_same_name_is_skipped_and_reported_by_default():
    plan = make_plan(snapshot(USERS, GROUPS), site({"X": ("ENGINEERING", set()), "S": ("Sales", set())}),
                     Links(users=linked().users))
    assert plan.ops == []
    assert {(s.name, s.reason) for s in plan.skipped_groups} == {
        ("Engineering", "existing_group"), ("Sales", "existing_group")}
    assert plan.adopted == [] and plan.stats["groups_skipped"] == 2


def test_link_to_a_group_deleted_on_the_site_falls_back_to_creating_it():
    current = synced_site()
    del current.groups["E"], current.members["E"]
    plan = make_plan(snapshot(USERS, GROUPS), current, linked())
    assert {op.kind for op in plan.ops} == {CREATE_GROUP, LINK_GROUP, ADD_MEMBER}
    assert [n.code for n in plan.notices] == ["linked_group_gone"]


def test_manual_mapping_changes_named_groups_only():
    policy = MappingPolicy(mode="manual", rules=(("Engineering", ("leads",)),))
    current = synced_site(L=("leads", {"a1", "a2"}))
    plan = make_plan(snapshot(USERS, GROUPS), current, linked(), policy)
    assert plan.ops == []
    groups = {"g1": ("Engineering", ["u1"]), "g2": ("Sales", [])}
    plan = make_plan(snapshot(USERS, groups), current, linked(), policy)
    assert triples(plan) == {(REMOVE_MEMBER, "L", "a2")}


def test_groups_to_read_and_emails_to_look_up():
    snap = snapshot({**USERS, "u4": " Dee@Corp.com"}, {**GROUPS, "g3": ("New", ["u4"])})
    want = mapping.desired(snap, MappingPolicy())
    policy = SyncPolicy(deprovision="remove_product_access", product_access_groups=("jira-software-users",))
    current = synced_site()
    assert planner.groups_to_read(want, current.groups, linked(), policy) == {"E", "S", "JSW"}
    assert planner.emails_to_look_up(want, linked()) == ["dee@corp.com"]


@pytest.mark.parametrize("scenario", ["first_sync", "changes", "reactivation"])
def test_applying_the_plan_then_planning_again_is_empty(scenario):
    snap, current, links = snapshot(USERS, GROUPS), site(emails={"bob@corp.com": "a2"}), Links()
    if scenario != "first_sync":
        current, links = synced_site(), linked()
        snap = snapshot({**USERS, "u4": "dee@corp.com"},
                        {"g1": ("Eng", ["u4", "u3"]), "g2": ("Sales", []), "g3": ("Ops", ["u1"])},
                        inactive=("u2",) if scenario == "changes" else ())
        links.suspended = {"a2"} if scenario == "reactivation" else set()
    policy = SyncPolicy(deprovision="suspend")
    plan = make_plan(snap, current, links, sync_policy=policy)
    assert plan.ops
    after, after_links = apply_to_state(current, links, plan)
    assert make_plan(snap, after, after_links, sync_policy=policy).ops == []


def test_users_without_a_usable_email_are_reported_not_crashed_on():
    users = {"u1": "ann@corp.com", "u2": "", "u3": None, "u4": "no-at-sign", "u5": "ANN@corp.com "}
    groups = {"g1": ("Engineering", list(users))}
    plan = make_plan(snapshot(users, groups), site(), Links())
    assert {op.idp_user_id for op in plan.ops if op.kind == INVITE_USER} == {"u1"}
    assert sum(n.code == "user_skipped" for n in plan.notices) == 4
    want = mapping.desired(snapshot(users, groups), MappingPolicy())
    assert planner.emails_to_look_up(want, Links()) == ["ann@corp.com"]


def test_user_emails_get_answers_as_a_mapping_does():
    from workers.sync.model import User
    from workers.sync.ops import UserEmails

    emails = UserEmails({"u1": User("u1", "a@x.org", display_name="A", active=True),
                         "u2": User("u2", None, display_name="B", active=True)})
    assert emails.get("u1") == emails["u1"] == "a@x.org"
    assert emails.get("u2") is None
    assert emails.get("nobody") is None and emails.get("nobody", "d") == "d"
    assert dict(emails.items()) == {"u1": "a@x.org", "u2": None}
