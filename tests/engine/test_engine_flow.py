"""The pipeline end to end (in process): directory file → sandbox site over HTTP."""

from __future__ import annotations

import pytest

from tests.engine.harness import ALICE, BOB, CAROL, LENIENT, directory, people_stack


@pytest.fixture()
def env(test_config, tmp_path):
    with people_stack(test_config, tmp_path) as s:
        yield s


def test_first_sync_then_noop_resync(env):
    cid = env.connection(directory([ALICE, BOB, CAROL], {"eng": ["u-alice", "u-bob"], "ops": ["u-carol"]}))
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    assert env.members("eng") == {"alice@example.com", "bob@example.com"}
    assert env.members("ops") == {"carol@example.com"}
    assert all(c.outcome == "applied" for c in env.changes(run.id))
    writes_before = len(env.cloud.requests.writes())
    again = env.sync(cid)
    assert again.status == "succeeded" and again.ops_total == 0
    assert len(env.cloud.requests.writes()) == writes_before


def test_dry_run_stores_a_preview_and_writes_nothing(env):
    cid = env.connection(directory([ALICE], {"eng": ["u-alice"]}))
    run = env.sync(cid, dry_run=True)
    assert run.status == "preview" and run.ops_total > 0
    assert "eng" not in env.group_names()
    assert env.cloud.requests.writes() == []


def test_idp_changes_are_followed(env):
    d = directory([ALICE, BOB, CAROL], {"eng": ["u-alice", "u-bob"], "ops": ["u-carol"]})
    cid = env.connection(d, {"policy": LENIENT})
    env.sync(cid)
    # join, leave, e-mail change (same IdP id), disable
    d = directory([("u-alice", "alice.new@example.com", True), BOB, ("u-carol", "carol@example.com", False)],
                  {"eng": ["u-alice", "u-carol"], "ops": ["u-carol", "u-bob"]})
    env.write_directory(d)
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    # alice keeps her account (linked by IdP id, not e-mail); bob left eng, joined ops;
    # carol is disabled: she leaves every managed group.
    assert env.members("eng") == {"alice@example.com"}
    assert env.members("ops") == {"bob@example.com"}
    # re-enable carol: she gets exactly what the IdP says
    d["users"][2]["active"] = True
    env.write_directory(d)
    assert env.sync(cid).status == "succeeded"
    assert env.members("eng") == {"alice@example.com", "carol@example.com"}
    assert env.members("ops") == {"bob@example.com", "carol@example.com"}


def test_unmanaged_groups_and_foreign_members_untouched(env):
    site = env.cloud.site
    outsider = site.add_user("outsider@example.com", "Outsider")
    local = site.add_group("local-team")
    site.add_member(local.group_id, outsider.account_id)
    cid = env.connection(directory([ALICE], {"eng": ["u-alice"]}))
    env.sync(cid)
    eng = site.group_by_name("eng")
    site.add_member(eng.group_id, outsider.account_id)  # someone added by hand
    env.sync(cid)
    assert env.members("local-team") == {"outsider@example.com"}
    assert "outsider@example.com" in env.members("eng")


def test_mass_removal_is_held_then_approved(env):
    users = [(f"u{i}", f"user{i}@example.com", True) for i in range(12)]
    for _, email, _ in users:
        env.cloud.site.add_user(email)
    cid = env.connection(directory(users, {"big": [u[0] for u in users]}))
    assert env.sync(cid).status == "succeeded"
    env.write_directory(directory(users[:2], {"big": ["u0", "u1"]}))
    held = env.sync(cid)
    assert held.status == "held" and "Approve" in held.reason
    assert len(env.members("big")) == 12
    from workers.sync import engine

    assert engine.apply_held(env.env, held.id, "admin@example.com") == "succeeded"
    assert env.members("big") == {"user0@example.com", "user1@example.com"}
    assert env.run(held.id).approved_by == "admin@example.com"


def test_incomplete_fetch_aborts_without_changes(env, tmp_path):
    cid = env.connection(directory([ALICE], {"eng": ["u-alice"]}))
    env.sync(cid)
    (tmp_path / "directory.json").write_text("{broken")
    run = env.sync(cid)
    assert run.status == "failed" and "not valid JSON" in run.error
    assert env.members("eng") == {"alice@example.com"}


def test_missing_write_credential_fails_clearly(env):
    from app import extensions
    from app.models.credential import CredentialKind
    from workers.atlassian.credentials import delete_credential

    delete_credential(extensions.db, env.installation_id, CredentialKind.API_TOKEN)
    cid = env.connection(directory([ALICE], {"eng": ["u-alice"]}))
    run = env.sync(cid)
    assert run.status == "failed"
    assert "connect" in (run.error or "").lower()
    assert "eng" not in env.group_names()


def test_manual_mapping_rules_live_in_their_table(env):
    from app import extensions
    from app.models import GroupMapping

    mapping = {"mode": "manual", "rules": [
        {"idp_group": "eng", "groups": ["jira-developers", "confluence-writers"]},
        {"idp_group": "g-ops", "groups": ["jira-developers"]}], "policy": LENIENT}
    cid = env.connection(directory([ALICE, BOB, CAROL], {"eng": ["u-alice"], "ops": ["u-carol"],
                                                         "unmapped": ["u-bob"]}), mapping)
    with extensions.db.session() as s:
        rows = s.query(GroupMapping).filter_by(connection_id=cid).order_by(GroupMapping.position).all()
        assert [(r.idp_group, r.atlassian_groups) for r in rows] == [
            ("eng", ["jira-developers", "confluence-writers"]), ("g-ops", ["jira-developers"])]
    assert env.sync(cid).status == "succeeded"
    assert env.members("jira-developers") == {"alice@example.com", "carol@example.com"}
    assert env.members("confluence-writers") == {"alice@example.com"}
    assert "unmapped" not in env.group_names() and "eng" not in env.group_names()


def test_group_renamed_in_the_idp_keeps_its_atlassian_group(env):
    d = directory([ALICE, BOB], {"eng": ["u-alice"]})
    cid = env.connection(d, {"policy": LENIENT})
    env.sync(cid)
    d["groups"][0]["name"] = "engineering"  # same IdP id, new name
    d["groups"][0]["members"] = ["u-alice", "u-bob"]
    env.write_directory(d)
    run = env.sync(cid)
    assert run.status == "succeeded"
    assert "engineering" not in env.group_names(), "Atlassian cannot rename: no duplicate group"
    assert env.members("eng") == {"alice@example.com", "bob@example.com"}
    import json

    assert any("engineering" in n["message"] for n in json.loads(run.plan)["notices"])


def test_suspend_policy_goes_through_the_org_api(env):
    from app import extensions
    from app.models.credential import CredentialKind
    from workers.atlassian.credentials import save_credential

    save_credential(extensions.db, env.installation_id, CredentialKind.ORG_API_KEY,
                    {"org_id": env.cloud.org_id, "api_key": env.cloud.org_api_key},
                    extensions.secrets.encrypt)
    d = directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"]})
    cid = env.connection(d, {"policy": LENIENT, "deprovision": "suspend"})
    env.sync(cid)
    bob = env.cloud.site.user_by_email("bob@example.com")
    d["users"][1]["active"] = False
    env.write_directory(d)
    assert env.sync(cid).status == "succeeded"
    assert env.members("eng") == {"alice@example.com"}
    in_directory = f"/admin/v2/orgs/{env.cloud.org_id}/directories/{env.cloud.site.directory_id}"
    assert len(env.cloud.requests.matching(
        "POST", f"{in_directory}/users/{bob.account_id}/suspend")) == 1
    assert not env.cloud.requests.matching(None, "/admin/v1/")  # v1 suspend-access is retiring
    assert not env.cloud.site.user(bob.account_id).is_active
    d["users"][1]["active"] = True
    env.write_directory(d)
    assert env.sync(cid).status == "succeeded"
    assert len(env.cloud.requests.matching(
        "POST", f"{in_directory}/users/{bob.account_id}/restore")) == 1
    assert env.members("eng") == {"alice@example.com", "bob@example.com"}
