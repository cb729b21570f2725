"""Table tests of the mapping: targets, transforms, filters, default groups, nesting."""

from __future__ import annotations

import pytest

from tests.sync.build import snapshot
from workers.sync.mapping import desired, member_closure, name_matcher
from workers.sync.policy import GroupFilter, MappingPolicy, NameTransform, UserFilter

USERS = {"u1": "ann@corp.com", "u2": "bob@corp.com", "u3": "cy@other.org"}
GROUPS = {"g1": ("Engineering", ["u1", "u2"]), "g2": ("Sales", ["u3"]), "g3": ("ops-team", ["u2"])}


def targets(policy: MappingPolicy, users=USERS, groups=GROUPS, **kw) -> dict[str, set[str]]:
    want = desired(snapshot(users, groups, **kw), policy)
    return {want.groups[key].name: set(members) for key, members in want.members.items()}


def test_on_the_fly_uses_the_idp_group_names():
    assert targets(MappingPolicy()) == {"Engineering": {"u1", "u2"}, "Sales": {"u3"},
                                        "ops-team": {"u2"}}


@pytest.mark.parametrize("transform, name", [
    (NameTransform(prefix="idp-"), "idp-Engineering"),
    (NameTransform(case="lower"), "engineering"),
    (NameTransform(case="upper"), "ENGINEERING"),
    (NameTransform(prefix="X_", case="lower"), "X_engineering"),
])
def test_on_the_fly_prefix_and_case(transform, name):
    assert name in targets(MappingPolicy(transform=transform))


def test_on_the_fly_links_each_target_to_its_idp_group():
    want = desired(snapshot(USERS, GROUPS), MappingPolicy())
    assert want.groups["engineering"].idp_group_ids == ("g1",)


def test_transform_collision_merges_members_and_says_so():
    groups = {"g1": ("Dev", ["u1"]), "g2": ("DEV", ["u2"])}
    want = desired(snapshot(USERS, groups), MappingPolicy(transform=NameTransform(case="lower")))
    assert want.members == {"dev": {"u1", "u2"}}
    assert want.groups["dev"].idp_group_ids == ("g1", "g2")
    assert [n.code for n in want.notices] == ["groups_merged"]


@pytest.mark.parametrize("rules, expected", [
    ((("Engineering", ("jira-dev",)),), {"jira-dev": {"u1", "u2"}}),
    ((("engineering", ("jira-dev",)),), {"jira-dev": {"u1", "u2"}}),  # names match regardless of case
    ((("g1", ("jira-dev",)),), {"jira-dev": {"u1", "u2"}}),  # or by IdP id
    ((("Engineering", ("jira-dev", "confluence-dev")),),
     {"jira-dev": {"u1", "u2"}, "confluence-dev": {"u1", "u2"}}),  # one to many
    ((("Engineering", ("staff",)), ("Sales", ("staff",))), {"staff": {"u1", "u2", "u3"}}),  # many to one
])
def test_manual_table(rules, expected):
    assert targets(MappingPolicy(mode="manual", rules=rules)) == expected


def test_manual_targets_carry_no_link_and_unmatched_rules_are_reported():
    want = desired(snapshot(USERS, GROUPS), MappingPolicy(
        mode="manual", rules=(("Engineering", ("dev",)), ("Nobody", ("x",)))))
    assert want.groups["dev"].idp_group_ids == ()
    assert [n.code for n in want.notices] == ["rule_unmatched"]


@pytest.mark.parametrize("include, exclude, expected", [
    ((), (), {"Engineering", "Sales", "ops-team"}),
    (("Eng*",), (), {"Engineering"}),
    (("eng*",), (), {"Engineering"}),  # case-insensitive
    (("*",), ("Sales",), {"Engineering", "ops-team"}),
    (("re:.*-team",), (), {"ops-team"}),
    (("re:(Eng|Sal).*",), ("re:S.*",), {"Engineering"}),
    (("re:Eng",), (), set()),  # a regex must match the whole name
    (("Sales", "ops-?eam"), (), {"Sales", "ops-team"}),
    (("Eng*",), ("*",), set()),  # exclude wins
])
def test_group_include_exclude(include, exclude, expected):
    policy = MappingPolicy(groups=GroupFilter(include=include, exclude=exclude))
    assert set(targets(policy)) == expected


def test_filters_apply_to_manual_rules_too():
    policy = MappingPolicy(mode="manual", rules=(("Sales", ("s",)),),
                           groups=GroupFilter(exclude=("Sales",)))
    assert targets(policy) == {}


@pytest.mark.parametrize("rule, inactive, expected_users", [
    (UserFilter(), (), {"u1", "u2", "u3"}),
    (UserFilter(), ("u2",), {"u1", "u3"}),
    (UserFilter(active_only=False), ("u2",), {"u1", "u2", "u3"}),
    (UserFilter(email_domains=("corp.com",)), (), {"u1", "u2"}),
    (UserFilter(email_domains=("CORP.com", "other.org")), (), {"u1", "u2", "u3"}),
    (UserFilter(email_domains=("corp.com",)), ("u1",), {"u2"}),
])
def test_user_filters(rule, inactive, expected_users):
    want = desired(snapshot(USERS, GROUPS, inactive=inactive), MappingPolicy(users=rule))
    assert set(want.users) == expected_users
    assert set().union(*want.members.values()) <= expected_users


def test_members_only_leaves_out_users_in_no_synced_group():
    users = {**USERS, "u4": "dee@corp.com"}
    assert "u4" not in desired(snapshot(users, GROUPS), MappingPolicy()).users
    everyone = MappingPolicy(users=UserFilter(members_only=False), default_groups=("all-staff",))
    assert targets(everyone, users)["all-staff"] == {"u1", "u2", "u3", "u4"}


def test_default_groups_hold_every_synced_user():
    got = targets(MappingPolicy(default_groups=("everyone", "jira-users"),
                                groups=GroupFilter(include=("Sales",))))
    assert got == {"Sales": {"u3"}, "everyone": {"u3"}, "jira-users": {"u3"}}


def test_default_group_that_is_also_mapped_gets_the_union():
    got = targets(MappingPolicy(default_groups=("sales",), groups=GroupFilter(include=("Sales", "Eng*"))))
    assert got["Sales"] == {"u1", "u2", "u3"}


def test_nested_members_count_in_the_parent():
    groups = {"p": ("Parent", ["u1"]), "c": ("Child", ["u2"], ("p",)),
              "gc": ("Grandchild", ["u3"], ("c",))}
    assert targets(MappingPolicy(), groups=groups) == {
        "Parent": {"u1", "u2", "u3"}, "Child": {"u2", "u3"}, "Grandchild": {"u3"}}


def test_nesting_can_be_switched_off():
    groups = {"p": ("Parent", ["u1"]), "c": ("Child", ["u2"], ("p",))}
    assert targets(MappingPolicy(flatten_nested=False), groups=groups)["Parent"] == {"u1"}


def test_excluded_child_still_feeds_its_parent():
    groups = {"p": ("Parent", ["u1"]), "c": ("Child", ["u2"], ("p",))}
    policy = MappingPolicy(groups=GroupFilter(exclude=("Child",)))
    assert targets(policy, groups=groups) == {"Parent": {"u1", "u2"}}


@pytest.mark.parametrize("groups, expected", [
    ({"a": ("A", ["u1"], ("b",)), "b": ("B", ["u2"], ("a",))},
     {"A": {"u1", "u2"}, "B": {"u1", "u2"}}),  # two-cycle
    ({"a": ("A", ["u1"], ("c",)), "b": ("B", ["u2"], ("a",)), "c": ("C", ["u3"], ("b",))},
     {"A": {"u1", "u2", "u3"}, "B": {"u1", "u2", "u3"}, "C": {"u1", "u2", "u3"}}),
    ({"a": ("A", ["u1"], ("a",))}, {"A": {"u1"}}),  # its own parent
    ({"a": ("A", ["u1"], ("ghost",))}, {"A": {"u1"}}),  # unknown parent ignored
    ({"top": ("Top", []), "a": ("A", ["u1"], ("top", "b")), "b": ("B", ["u2"], ("a",)),
      "leaf": ("Leaf", ["u3"], ("b",))},
     {"Top": {"u1", "u2", "u3"}, "A": {"u1", "u2", "u3"}, "B": {"u1", "u2", "u3"},
      "Leaf": {"u3"}}),  # a cycle below a parent, with a leaf below the cycle
    ({"a": ("A", ["u1"]), "b": ("B", ["u2"], ("a",)), "c": ("C", ["u3"], ("a", "b"))},
     {"A": {"u1", "u2", "u3"}, "B": {"u2", "u3"}, "C": {"u3"}}),  # diamond
])
def test_cycles_terminate_with_correct_closures(groups, expected):
    assert targets(MappingPolicy(), groups=groups) == expected


def test_deep_chain_does_not_recurse():
    depth = 5000
    groups = {f"g{i}": (f"G{i}", [f"u{i % 3 + 1}"], (f"g{i - 1}",) if i else ()) for i in range(depth)}
    closure = member_closure(snapshot(USERS, groups), ["g0"])
    assert closure["g0"] == {"u1", "u2", "u3"}


def test_dangling_member_ids_are_not_synced():
    want = desired(snapshot(USERS, {"g": ("G", ["u1", "nobody"])}), MappingPolicy())
    assert want.members["g"] == {"u1"}


@pytest.mark.parametrize("patterns, name, hit", [
    (("a*",), "ABC", True), (("a?c",), "abc", True), (("[ab]x",), "bx", True),
    (("re:^a.c$",), "abc", True), (("re:a",), "ba", False), (("x",), "x\ny", False),
    (("x*", "re:(?x) e n g"), "eng", True),  # a regex with its own global flags
    ((), "anything", False),
])
def test_name_matcher(patterns, name, hit):
    assert name_matcher(patterns)(name) is hit


def test_invite_products_take_only_what_an_invite_can_grant():
    from workers.sync.policy import PolicyError, from_connection

    ok = from_connection("on_the_fly", {}, {}, [], "remove_from_groups",
                         {"products": ["jira-software", "jira-servicedesk"]})
    assert ok.sync.invite_products == ("jira-software", "jira-servicedesk")
    with pytest.raises(PolicyError, match="confluence cannot be granted"):
        from_connection("on_the_fly", {}, {}, [], "remove_from_groups",
                        {"products": ["confluence"]})
