"""Table tests: admin, product-access and pre-existing groups in the planner; the invite allow-list."""

from __future__ import annotations

import json

import pytest

from tests.sync.build import make_plan, site, snapshot, triples
from workers.sync.plan import ADD_MEMBER, CREATE_GROUP, INVITE_USER, Plan, PlanFormatError
from workers.sync.planner import Links
from workers.sync.policy import MappingPolicy, PolicyError, SyncPolicy, from_connection
from workers.sync.privileged import classify

USERS = {"u1": "ann@corp.com", "u2": "new@corp.com", "u3": "eve@else.test"}


@pytest.mark.parametrize(("name", "kind"), [
    ("site-admins", "admin_group"), ("Site-Admins", "admin_group"), ("org-admins", "admin_group"),
    ("administrators", "admin_group"), ("system-administrators", "admin_group"),
    ("jira-administrators", "admin_group"), ("confluence-administrators", "admin_group"),
    ("jira-admins-acme", "admin_group"), ("confluence-admins-vitafleet", "admin_group"),
    ("jira-servicemanagement-admins-acme.com", "admin_group"), ("trusted-users-1a2b", "admin_group"),
    ("atlassian-addons-admin", "admin_group"), (" jira-admins ", "admin_group"),
    ("jira-software-users", "product_access_group"), ("jira-users", "product_access_group"),
    ("confluence-users", "product_access_group"), ("Jira-Software-users-acme.com", "product_access_group"),
    ("jira-servicemanagement-users-acme", "product_access_group"),
    ("jira-product-discovery-users", "product_access_group"),
    ("engineering", None), ("db-admins", None), ("jira-fans", None), ("site-administration-team", None),
])
def test_group_names_are_classified(name, kind):
    assert classify(name) == kind


def test_an_admin_group_is_never_created_adopted_or_written_whatever_the_mapping():
    snap = snapshot(USERS, {"g1": ("site-admins", ["u1", "u2"]), "g2": ("jira-admins-acme", ["u1"])})
    current = site({"ADM": ("site-admins", set())}, emails={"ann@corp.com": "a1"})
    for mapping_policy in (MappingPolicy(),
                           MappingPolicy(mode="manual", rules=(("g1", ("site-admins",)),)),
                           MappingPolicy(default_groups=("Site-Admins", "jira-administrators"))):
        plan = make_plan(snap, current, mapping_policy=mapping_policy,
                         sync_policy=SyncPolicy(adopt_existing_groups=True))
        assert not [op for op in plan.ops if op.kind in (ADD_MEMBER, CREATE_GROUP)], plan.ops
        assert not [op for op in plan.ops if op.kind == INVITE_USER], "invited into admin groups only"
        assert {s.reason for s in plan.skipped_groups} == {"admin_group"}


def test_a_group_found_to_hold_admin_rights_is_skipped():
    current = site({"R": ("ops-root", {"boss"})}, emails={"ann@corp.com": "a1"})
    current.admin_groups = {"R"}
    plan = make_plan(snapshot(USERS, {"g1": ("ops-root", ["u1"])}), current,
                     sync_policy=SyncPolicy(adopt_existing_groups=True))
    assert triples(plan, ADD_MEMBER) == set()
    assert [(s.name, s.reason) for s in plan.skipped_groups] == [("ops-root", "admin_rights")]


def test_product_access_group_only_when_named_explicitly():
    current = site({"JSW": ("jira-software-users", set())}, emails={"ann@corp.com": "a1"})
    snap = snapshot(USERS, {"g1": ("jira-software-users", ["u1"])})
    on_the_fly = make_plan(snap, current, sync_policy=SyncPolicy(adopt_existing_groups=True))
    assert triples(on_the_fly, ADD_MEMBER) == set()
    assert [s.reason for s in on_the_fly.skipped_groups] == ["product_access_group"]
    manual = make_plan(snap, current, mapping_policy=MappingPolicy(
        mode="manual", rules=(("g1", ("jira-software-users",)),)))
    assert triples(manual, ADD_MEMBER) == {(ADD_MEMBER, "JSW", "a1")}
    default = make_plan(snapshot(USERS, {"g1": ("eng", ["u1"])}), current,
                        mapping_policy=MappingPolicy(default_groups=("jira-software-users",)))
    assert (ADD_MEMBER, "JSW", "a1") in triples(default, ADD_MEMBER)


def test_a_linked_group_stays_managed_without_the_adoption_flag():
    current = site({"E": ("eng", {"a1"})}, emails={"new@corp.com": "a2"})
    plan = make_plan(snapshot(USERS, {"g1": ("eng", ["u1", "u2"])}), current,
                     Links(users={"u1": "a1"}, groups={"g1": "E"}))
    assert triples(plan, ADD_MEMBER) == {(ADD_MEMBER, "E", "a2")}
    assert plan.adopted == [] and plan.skipped_groups == []


def test_invites_follow_the_allow_list():
    snap = snapshot(USERS, {"g1": ("crew", ["u1", "u2", "u3"])})
    current = site(emails={"ann@corp.com": "a1"})
    allowed = make_plan(snap, current, sync_policy=SyncPolicy(invite_domains=("corp.com",)))
    assert {op.email for op in allowed.ops if op.kind == INVITE_USER} == {"new@corp.com"}
    assert [n.code for n in allowed.notices] == ["invite_domain_skipped"]
    assert allowed.invite_domains == ["corp.com"]
    nobody = make_plan(snap, current, sync_policy=SyncPolicy(invite_domains=()))
    assert not [op for op in nobody.ops if op.kind == INVITE_USER]


def test_plan_json_carries_adopted_skipped_and_invite_domains():
    current = site({"L": ("local", set()), "ADM": ("site-admins", set())})
    plan = make_plan(snapshot(USERS, {"g1": ("local", ["u1"]), "g2": ("site-admins", ["u1"])}),
                     current, sync_policy=SyncPolicy(adopt_existing_groups=True,
                                                     invite_domains=("corp.com",)))
    data = json.loads(plan.to_json())
    assert data["groups"] == {"adopted": ["local"],
                              "skipped": [{"name": "site-admins", "reason": "admin_group"}]}
    assert data["invite_domains"] == ["corp.com"]
    assert Plan.from_json(plan.to_json()) == plan
    older = {k: v for k, v in data.items() if k not in ("groups", "invite_domains")}
    back = Plan.from_dict(older)
    assert back.adopted == [] and back.skipped_groups == [] and back.invite_domains is None
    with pytest.raises(PlanFormatError, match="groups.skipped"):
        Plan.from_dict({**data, "groups": {"skipped": [{"name": 1}]}})


@pytest.mark.parametrize(("policy", "message"), [
    ({"adopt_existing_groups": "yes"}, "policy.adopt_existing_groups must be true or false"),
    ({"invite_domains": "corp.com"}, "policy.invite_domains must be a list"),
    ({"invite_domains": ["not a domain"]}, "'not a domain' is not an e-mail domain"),
])
def test_bad_policy_settings_are_named(policy, message):
    with pytest.raises(PolicyError, match=message):
        from_connection("on_the_fly", {}, {}, [], "remove_from_groups", policy)


def test_invite_domains_are_normalised():
    sync = from_connection("on_the_fly", {}, {}, [], "remove_from_groups",
                           {"invite_domains": ["@Corp.COM", "corp.com", "sub.example.org"]}).sync
    assert sync.invite_domains == ("corp.com", "sub.example.org")
    assert from_connection("on_the_fly", {}, {}, [], "remove_from_groups", {}).sync.invite_domains is None


def test_adoption_is_reported_once_then_the_group_is_linked():
    from tests.sync.state import apply_to_state

    current = site({"L": ("local", set())}, emails={"ann@corp.com": "a1"})
    policy = SyncPolicy(adopt_existing_groups=True)
    snap = snapshot(USERS, {"g1": ("local", ["u1"])})
    first = make_plan(snap, current, sync_policy=policy)
    assert first.adopted == ["local"]
    after, links = apply_to_state(current, Links(), first)
    again = make_plan(snap, after, links, sync_policy=policy)
    assert again.ops == [] and again.adopted == []
    named = make_plan(snapshot(USERS, {"g1": ("eng", ["u1"])}), current,
                      mapping_policy=MappingPolicy(default_groups=("local",)))
    assert named.adopted == [] and (ADD_MEMBER, "L", "a1") in triples(named, ADD_MEMBER)


def test_a_group_synced_from_an_idp_is_skipped_even_when_named():
    from workers.sync.privileged import SYNCED, skip_reason

    assert skip_reason("engineering", "engineering", explicit=True, adopting=False,
                       admin_rights=False, adopt_allowed=True, synced=True) == SYNCED
    assert skip_reason("engineering", "engineering", explicit=True, adopting=False,
                       admin_rights=False, adopt_allowed=True) is None
