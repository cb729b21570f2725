"""The plan's JSON form and summary, and the settings parser's errors."""

from __future__ import annotations

import json

import pytest

from tests.sync.build import make_plan, site, snapshot
from workers.sync.plan import APPLY_ORDER, Notice, Op, Plan, PlanFormatError
from workers.sync.planner import Links
from workers.sync.policy import PolicyError, SyncPolicy, from_connection


def sample_plan() -> Plan:
    snap = snapshot({"u1": "ann@corp.com", "u2": "bob@corp.com"},
                    {"g1": ("Eng", ["u1", "u2"]), "g2": ("Ops", ["u2"])}, inactive=())
    current = site({"O": ("Ops", {"a9"})}, emails={"ann@corp.com": "a1"})
    links = Links(users={"u9": "a9"})
    return make_plan(snap, current, links, sync_policy=SyncPolicy(
        invite_products=("jira-software", "confluence"), deprovision="suspend",
        adopt_existing_groups=True))


def test_json_round_trip_keeps_every_op_and_notice():
    plan = sample_plan()
    plan.notices.append(Notice("x", "ünïcode ✓"))
    text = plan.to_json()
    back = Plan.from_json(text)
    assert back == plan
    assert back.to_json() == text
    assert json.loads(text)["summary"] == plan.summary()
    assert Plan.from_dict(plan.to_dict()) == plan


def test_summary_counts_each_kind_in_apply_order():
    summary = sample_plan().summary()
    assert list(summary) == list(APPLY_ORDER)
    assert summary == {"create_group": 1, "link_group": 2, "link_user": 1, "invite_user": 1,
                       "restore_access": 0, "add_member": 3, "remove_member": 1, "suspend_access": 1}


def test_ops_are_stored_as_rows_named_by_fields():
    data = json.loads(Plan(ops=[Op("suspend_access", account_id="a1")]).to_json())
    assert dict(zip(data["fields"], data["ops"][0], strict=True)) == {
        **{name: None for name in Op._fields}, "kind": "suspend_access", "account_id": "a1",
        "products": [], "reason": ""}


FIELDS = json.dumps(list(Op._fields))


def stored(*rows: list, **extra: object) -> str:
    """A stored plan whose ops are `rows`, each padded with nulls and empty products."""
    full = [row + [None] * (len(Op._fields) - len(row)) for row in rows]
    for row in full:
        row[9] = [] if row[9] is None else row[9]
    return json.dumps({"version": 1, "fields": json.loads(FIELDS), "ops": full, **extra})


@pytest.mark.parametrize("data, message", [
    ("not json", "not JSON"),
    ("[]", "version 1"),
    ('{"version": 1, "ops": {}}', "lists 'ops'"),
    ('{"version": 1, "ops": [], "fields": ["kind"]}', "'fields' must be"),
    (stored([7]), "op 0 has unknown kind 7"),
    (stored(["delete_site"]), "unknown kind 'delete_site'"),
    (stored(["suspend_access"]), "needs account_id"),
    (stored(["add_member", "g"]), "account_id or idp_user_id"),
    (stored(["suspend_access", None, None, None, 5]), "account_id must be a string"),
    (stored(["invite_user", None, None, None, None, "u", None, "e", None, "jira"]),
     "products must be a list"),
    (stored(["invite_user", None, None, None, None, "u", None, "e", None, ["jira", None]]),
     "products must be a list"),
    (json.dumps({"version": 1, "fields": json.loads(FIELDS), "ops": [["suspend_access", "a"]]}),
     "not a row of 11"),
    (stored(notices=[{"code": 1}]), "notice 0"),
    (stored(stats={"x": "many"}), "whole numbers"),
])
def test_bad_stored_plans_are_refused_clearly(data, message):
    with pytest.raises(PlanFormatError, match=message):
        Plan.from_json(data)


def test_settings_parse_with_defaults():
    policy = from_connection("on_the_fly", {"prefix": "idp-", "case": "lower"},
                             {"include": ["re:eng.*"], "email_domains": ["@Corp.com"]},
                             ["everyone"], "suspend", {"max_removal_percent": 5, "products": ["jira-software"]})
    assert policy.mapping.transform.apply("Dev") == "idp-dev"
    assert policy.mapping.users.email_domains == ("corp.com",)
    assert policy.sync.deprovision == "suspend" and policy.sync.invite_products == ("jira-software",)
    assert policy.guard.max_removal_percent == 5 and policy.guard.max_users_affected == 50


@pytest.mark.parametrize("args, message", [
    (("sideways", {}, {}, [], "none", {}), "mapping_mode must be one of"),
    (("on_the_fly", {"case": "title"}, {}, [], "none", {}), "mapping.case"),
    (("on_the_fly", {}, {"include": ["re:(unclosed"]}, [], "none", {}), "bad regular expression"),
    (("on_the_fly", {}, {"exclude": "Sales"}, [], "none", {}), "filters.exclude must be a list"),
    (("on_the_fly", {}, {}, "everyone", "none", {}), "default_groups must be a list"),
    (("on_the_fly", {}, {}, [""], "none", {}), "non-empty strings"),
    (("on_the_fly", {}, {}, [], "delete", {}), "deprovision must be one of"),
    (("on_the_fly", {}, {}, [], "none", {"on_unmatched": "email"}), "policy.on_unmatched"),
    (("on_the_fly", {}, {}, [], "none", {"max_removal_percent": -1}), "max_removal_percent"),
    (("on_the_fly", {}, {}, [], "none", {"max_users_affected": "ten"}), "max_users_affected"),
    (("manual", {"rules": [{"idp_group": "Eng"}]}, {}, [], "none", {}), "names no Atlassian group"),
    (("manual", {"rules": [{"groups": ["x"]}]}, {}, [], "none", {}), "needs an idp_group"),
    (("manual", {"rules": "Eng=x"}, {}, [], "none", {}), "mapping.rules must be a list"),
    (("manual", ["x"], {}, [], "none", {}), "mapping must be an object"),
    (("on_the_fly", {}, {"active_only": "no"}, [], "none", {}), "filters.active_only must be true"),
    (("on_the_fly", {"flatten_nested": 0}, {}, [], "none", {}), "mapping.flatten_nested"),
    (("on_the_fly", {"prefix": 7}, {}, [], "none", {}), "mapping.prefix must be a string"),
])
def test_bad_settings_name_the_setting(args, message):
    with pytest.raises(PolicyError, match=message):
        from_connection(*args)


def test_a_stored_version_1_plan_still_loads():
    plan = sample_plan()
    rows = {**plan.to_dict(), "version": 1, "ops": [list(op) for op in plan.ops]}
    rows.pop("emails")
    assert Plan.from_json(json.dumps(rows)).ops == list(plan.ops)


def test_member_additions_are_stored_once_per_group_with_one_e_mail_table():
    data = json.loads(sample_plan().to_json())
    batches = [row for row in data["ops"] if isinstance(row, dict)]
    assert data["version"] == 2 and batches
    assert {b["kind"] for b in batches} == {"add_member"}
    assert data["emails"] == {"u1": "ann@corp.com", "u2": "bob@corp.com"}


def test_ops_read_as_a_list_whatever_their_storage():
    plan = sample_plan()
    ops = list(plan.ops)
    assert len(plan.ops) == len(ops) and plan.ops == ops and ops == plan.ops
    assert [plan.ops[i] for i in range(len(ops))] == ops and plan.ops[-1] == ops[-1]
    assert plan.ops[2:7] == ops[2:7] and plan.ops[::2] == ops[::2]
    assert all(len(op) == len(Op._fields) for op in plan.ops)
    with pytest.raises(IndexError):
        plan.ops[len(ops)]
    assert plan.summary()["add_member"] == sum(op.kind == "add_member" for op in ops)


def batch_plan(**batch: object) -> str:
    row = {"kind": "add_member", "group_id": "G", "group_name": "Eng", "group_ref": None,
           "reason": "", "account_ids": None, "idp_user_ids": ["u1"], **batch}
    return json.dumps({"version": 2, "fields": json.loads(FIELDS), "ops": [row],
                       "emails": {"u1": "ann@corp.com"}}, separators=(",", ":"))


@pytest.mark.parametrize("data, message", [
    (batch_plan(kind="invite_user"), "a batch must be add_member or remove_member"),
    (batch_plan(group_id=None), "needs group_id or group_ref"),
    (batch_plan(group_name=3), "group fields must be strings"),
    (batch_plan(idp_user_ids="u1"), "idp_user_ids must be a list of strings"),
    (batch_plan(idp_user_ids=[None]), "needs account_id or idp_user_id"),
    (batch_plan(account_ids=["a1", "a2"]), "same length"),
    (batch_plan().replace('"emails":{', '"emails":{"u2":7,'), "'emails' must map"),
])
def test_bad_stored_batches_are_refused_clearly(data, message):
    with pytest.raises(PlanFormatError, match=message):
        Plan.from_json(data)


def test_a_stored_batch_reads_back_as_ops():
    plan = Plan.from_json(batch_plan(account_ids=["a1"]))
    assert list(plan.ops) == [Op("add_member", group_id="G", group_name="Eng", account_id="a1",
                                 idp_user_id="u1", email="ann@corp.com")]


def test_the_groups_of_some_kinds_are_those_of_their_ops():
    plan = sample_plan()
    for kinds in (("add_member",), ("add_member", "create_group"), ("remove_member",)):
        assert plan.ops.groups(kinds) == {(op.group_id, op.group_name) for op in plan.ops
                                          if op.kind in kinds}
