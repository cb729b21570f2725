"""IdP group names never take over privileged or pre-existing site groups; invites stay on the
connection's e-mail domains."""

from __future__ import annotations

import json

import pytest

from app import extensions
from app.models import Connection
from tests.engine.harness import directory, stack
from workers.sync import guard
from workers.sync.plan import ADD_MEMBER, Op, Plan
from workers.sync.policy import GuardPolicy

ANN = ("u-ann", "ann@example.com", True)
NEWBIE = ("u-new", "newbie@example.com", True)  # no Atlassian account yet
OUTSIDER = ("u-out", "mallory@attacker.test", True)


@pytest.fixture()
def env(test_config, tmp_path):
    with stack(test_config, tmp_path) as s:
        s.ann = s.cloud.site.add_user(ANN[1]).account_id
        yield s


def plan_of(run) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(run.plan)


def skipped(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s["name"]: s["reason"] for s in plan_of(run)["groups"]["skipped"]}


@pytest.mark.parametrize("name", ["site-admins", "jira-admins", "jira-administrators",
                                  "Confluence-Administrators", "jira-admins-acme"])
def test_an_idp_group_named_like_an_admin_group_changes_nothing_there(env, name):
    site = env.cloud.site
    try:
        group = site.group_by_name(name)
    except Exception:
        group = site.add_group(name)
    before = set(group.members)
    cid = env.connection(directory([ANN, NEWBIE], {name: ["u-ann", "u-new"]}),
                         {"policy": {"adopt_existing_groups": True}})
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    assert set(site.group_by_name(name).members) == before
    assert site.user_by_email(NEWBIE[1]) is None, "invited for an admin group"
    assert skipped(run) == {name: "admin_group"}


def test_admin_groups_are_refused_even_when_named_in_rules_and_defaults(env):
    admins = env.cloud.site.group_by_name("site-admins")
    before = set(admins.members)
    cid = env.connection(directory([ANN], {"staff": ["u-ann"]}), {
        "mode": "manual", "rules": [{"idp_group": "staff", "groups": ["site-admins", "staff"]}],
        "default_groups": ["jira-admins"]})
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    assert set(admins.members) == before
    assert env.members("staff") == {ANN[1]}
    assert skipped(run) == {"site-admins": "admin_group", "jira-admins": "admin_group"}


def test_a_group_granted_a_global_admin_permission_is_never_written(env):
    site = env.cloud.site
    root = site.add_group("ops-root")  # an ordinary name, but it grants Administer Jira
    site.grant_global("ADMINISTER", "ops-root")
    boss = site.add_user("boss@example.com").account_id
    site.add_member(root.group_id, boss)
    cid = env.connection(directory([ANN], {"ops-root": ["u-ann"]}),
                         {"policy": {"adopt_existing_groups": True}})
    preview = env.sync(cid, dry_run=True)
    assert skipped(preview) == {"ops-root": "admin_rights"}
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    assert set(site.group_by_name("ops-root").members) == {boss}
    assert not site.is_admin(env.ann)


def test_product_access_groups_are_written_only_where_the_admin_named_them(env):
    jsw = env.cloud.site.group_by_name("jira-software-users")
    cid = env.connection(directory([ANN], {"jira-software-users": ["u-ann"]}),
                         {"policy": {"adopt_existing_groups": True}})
    run = env.sync(cid)
    assert env.ann not in jsw.members
    assert skipped(run) == {"jira-software-users": "product_access_group"}
    named = env.connection(directory([ANN], {"eng": ["u-ann"]}, ), {
        "default_groups": ["jira-software-users"]}, name="named.json")
    assert env.sync(named).status == "succeeded"
    assert env.ann in jsw.members


def test_a_pre_existing_group_is_adopted_only_when_allowed_and_the_preview_says_so(env):
    site = env.cloud.site
    local = site.add_group("local-team")
    keeper = site.add_user("keeper@example.com").account_id
    site.add_member(local.group_id, keeper)
    cid = env.connection(directory([ANN], {"local-team": ["u-ann"]}))
    run = env.sync(cid)
    assert run.status == "succeeded"
    assert set(site.group_by_name("local-team").members) == {keeper}
    assert skipped(run) == {"local-team": "existing_group"}
    assert any(n["code"] == "group_skipped" and "adopt_existing_groups" in n["message"]
               for n in plan_of(run)["notices"])

    with extensions.db.session() as session:
        session.get(Connection, cid).policy = {"adopt_existing_groups": True}
    preview = env.sync(cid, dry_run=True)
    assert plan_of(preview)["groups"]["adopted"] == ["local-team"]
    assert env.sync(cid).status == "succeeded"
    assert set(site.group_by_name("local-team").members) == {keeper, env.ann}


def test_invites_only_for_domains_on_the_allow_list(env):
    cid = env.connection(directory([ANN, NEWBIE, OUTSIDER], {"crew": ["u-ann", "u-new", "u-out"]}),
                         {"policy": {"invite_domains": ["example.com"]}})
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    assert env.cloud.site.user_by_email(NEWBIE[1]) is not None
    assert env.cloud.site.user_by_email(OUTSIDER[1]) is None
    plan = plan_of(run)
    assert plan["invite_domains"] == ["example.com"]
    assert any(n["code"] == "invite_domain_skipped" and OUTSIDER[1] in n["message"]
               for n in plan["notices"])


def test_the_allow_list_is_filled_from_the_idp_on_the_first_read_and_shown(env):
    cid = env.connection(directory([ANN, NEWBIE, ("u-x", "xavier@Sub.Example.org", True),
                                    ("u-gone", "gone@old.test", False)],
                                   {"crew": ["u-ann", "u-new", "u-x"]}))
    preview = env.sync(cid, dry_run=True)
    assert plan_of(preview)["invite_domains"] == ["example.com", "sub.example.org"]
    with extensions.db.session() as session:
        assert session.get(Connection, cid).policy["invite_domains"] == [
            "example.com", "sub.example.org"]
    # A new IdP user on another domain later is not invited: the list stays what was shown.
    env.write_directory(directory([ANN, NEWBIE, OUTSIDER], {"crew": ["u-ann", "u-new", "u-out"]}))
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    assert env.cloud.site.user_by_email(OUTSIDER[1]) is None


def test_guard_holds_a_plan_that_adds_members_to_an_admin_group():
    plan = Plan(ops=[Op(ADD_MEMBER, group_id="g-admins", group_name="site-admins",
                        account_id="acc-1")], stats={"desired_users": 1})
    verdict = guard.check(plan, complete=True, previous_user_count=None, policy=GuardPolicy())
    assert verdict.decision == guard.HOLD and "site-admins" in verdict.reason
    by_rights = Plan(ops=[Op(ADD_MEMBER, group_id="g-7", group_name="ops-root",
                             account_id="acc-1")], stats={"desired_users": 1})
    verdict = guard.check(by_rights, complete=True, previous_user_count=None,
                          policy=GuardPolicy(), admin_groups={"g-7"})
    assert verdict.decision == guard.HOLD and "ops-root" in verdict.reason
