"""The mirror end to end: ordinary runs read no member lists, the reconcile finds manual edits
of managed groups and corrects them, an interrupted run is followed by a reconcile."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import extensions
from app.models import Connection, ManagedGroup, ManagedMembership, MirrorCount, SyncRun
from tests.engine.harness import ALICE, BOB, CAROL, LENIENT, directory, people_stack
from workers import schedule
from workers.sync import engine, mirror


@pytest.fixture()
def env(test_config, tmp_path):
    with people_stack(test_config, tmp_path) as s:
        yield s


def member_reads(env) -> int:
    return sum(1 for r in env.cloud.requests.all() if r.path.endswith("/group/member"))


def mirrored(cid: int) -> set[tuple[str, str]]:
    """The mirror's pairs; its stored count, kept by the writes, must be theirs."""
    with extensions.db.session() as session:
        pairs = set(session.execute(select(ManagedMembership.group_id, ManagedMembership.account_id)
                                    .where(ManagedMembership.connection_id == cid)).all())
        assert stored_count(session, cid) == len(pairs)
    return pairs


def stored_count(session, cid: int) -> int | None:
    return session.scalar(select(MirrorCount.memberships).where(MirrorCount.connection_id == cid))


def site_pairs(env, *names: str) -> set[tuple[str, str]]:
    site = env.cloud.site
    return {(site.group_by_name(n).group_id, u.account_id) for n in names
            for u in site.members(site.group_by_name(n).group_id)}


def test_noop_resync_reads_no_group_members(env):
    cid = env.connection(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"], "ops": ["u-bob"]}))
    first = env.sync(cid)
    assert first.status == "succeeded" and first.counts["site_reads"] == "reconcile"
    assert mirrored(cid) == site_pairs(env, "eng", "ops")
    env.cloud.requests.clear()
    again = env.sync(cid)
    assert (again.status, again.ops_total, again.counts["site_reads"]) == ("succeeded", 0, "mirror")
    assert member_reads(env) == 0 and env.cloud.requests.writes() == []
    # an IdP change is planned against the mirror too, and the mirror follows the writes
    env.write_directory(directory([ALICE, BOB, CAROL], {"eng": ["u-alice", "u-carol"],
                                                          "ops": ["u-bob"]}))
    with extensions.db.session() as session:
        session.get(Connection, cid).policy = LENIENT
    changed = env.sync(cid)
    assert changed.status == "succeeded" and member_reads(env) == 0
    assert env.members("eng") == {"alice@example.com", "carol@example.com"}
    assert mirrored(cid) == site_pairs(env, "eng", "ops")


def test_reconcile_finds_and_corrects_a_manual_edit(env):
    cid = env.connection(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"]}), {"policy": LENIENT})
    env.sync(cid)
    site = env.cloud.site
    eng = site.group_by_name("eng")
    site.remove_member(eng.group_id, site.user_by_email("bob@example.com").account_id)
    # an ordinary run trusts the mirror: the manual removal is not seen yet
    assert env.sync(cid).ops_total == 0 and env.members("eng") == {"alice@example.com"}
    run = env.sync(cid, trigger="reconcile")
    assert run.status == "succeeded", (run.reason, run.error)
    assert run.counts["site_reads"] == "reconcile"
    assert run.counts["drift"]["removed"] == 1 and run.counts["drift"]["total"] == 1
    assert env.members("eng") == {"alice@example.com", "bob@example.com"}
    assert mirrored(cid) == site_pairs(env, "eng")
    assert env.sync(cid).counts.get("drift") is None


def test_the_stored_membership_count_follows_every_mirror_write(env):
    cid = env.connection(directory([ALICE], {"eng": ["u-alice"]}))
    env.sync(cid)
    now = datetime.now(UTC)
    with extensions.db.session() as session:
        start = len(mirrored(cid))
        mirror.add_groups(session, cid, [("g-1", "one"), ("g-2", "two")])
        mirror.add_members(session, cid, [("g-1", "a-1"), ("g-1", "a-2"), ("g-2", "a-1")])
        mirror.add_members(session, cid, [("g-1", "a-1"), ("g-2", "a-3")])  # one already there
        mirror.remove_members(session, cid, [("g-1", "a-2"), ("g-1", "a-9")])  # one not there
        assert mirror.size(session, cid)[1] == start + 3
        mirror.adopt(session, cid, {"g-2": "two"}, {"g-2": {"a-4", "a-5", "a-6"}}, (), now)
        assert mirror.size(session, cid)[1] == start + 4
    assert len(mirrored(cid)) == start + 4
    with extensions.db.session() as session:  # a forgotten count is counted again, and kept
        session.execute(MirrorCount.__table__.delete())
        assert mirror.size(session, cid)[1] == start + 4
        assert stored_count(session, cid) == start + 4
        mirror.replace(session, cid, {"g-1": "one"}, {"g-1": {"a-1"}, "g-2": {"a-7"}}, (), now)
    assert mirrored(cid) == {("g-1", "a-1")}


def test_a_due_reconcile_runs_on_the_ordinary_schedule(env):
    cid = env.connection(directory([ALICE], {"eng": ["u-alice"]}))
    env.sync(cid)
    site = env.cloud.site
    outsider = site.add_user("outsider@example.com", "Outsider")
    site.add_member(site.group_by_name("eng").group_id, outsider.account_id)
    day_ago = datetime.now(UTC) - timedelta(hours=25)
    with extensions.db.session() as session:
        session.get(Connection, cid).reconciled_at = day_ago
        for run in session.scalars(select(SyncRun).where(SyncRun.connection_id == cid)):
            run.started_at = day_ago
    assert schedule.reconcile_due(extensions.db, datetime.now(UTC)) == [cid]
    run = env.sync(cid, trigger="schedule")
    assert run.counts["site_reads"] == "reconcile" and run.counts["drift"]["added"] == 1
    # someone added by hand is not ours to remove: drift is shown, the member stays
    assert "outsider@example.com" in env.members("eng")
    assert schedule.reconcile_due(extensions.db, datetime.now(UTC)) == []


def test_an_interrupted_run_is_followed_by_a_reconcile(env):
    cid = env.connection(directory([ALICE, BOB], {"eng": ["u-alice"]}), {"policy": LENIENT})
    env.sync(cid)
    # a worker died mid-run after writing to the site but before recording it
    site = env.cloud.site
    site.add_member(site.group_by_name("eng").group_id,
                    site.user_by_email("bob@example.com").account_id)
    dead = engine.start_run(extensions.db, cid, "schedule", False)
    assert engine.close_interrupted(extensions.db, cid) == 1
    with extensions.db.session() as session:
        assert session.get(SyncRun, dead).status == "failed"
    env.write_directory(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"]}))
    run = env.sync(cid)
    assert run.counts["site_reads"] == "reconcile" and run.counts["drift"]["added"] == 1
    assert run.counts["planned"]["add_member"] == 0  # bob is there already: only linked
    assert mirrored(cid) == site_pairs(env, "eng")


def admin_checks(env) -> int:
    return sum(1 for r in env.cloud.requests.all() if r.path.endswith("/permissions/check"))


def test_membership_removals_spare_admin_group_members_without_permission_checks(env):
    cid = env.connection(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"],
                                                   "ops": ["u-alice", "u-bob"]}),
                         {"policy": LENIENT})
    env.sync(cid)
    env.write_directory(directory([ALICE, BOB], {"eng": ["u-alice"], "ops": ["u-alice", "u-bob"]}))
    env.cloud.requests.clear()
    first = env.sync(cid)
    assert first.status == "succeeded" and env.members("eng") == {"alice@example.com"}
    assert admin_checks(env) == 0  # a membership removal asks nothing per account
    # bob is made a site admin by hand; the reconcile reads the admin-named groups again
    env.cloud.site.make_admin(env.cloud.site.user_by_email("bob@example.com").account_id)
    env.write_directory(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"], "ops": ["u-alice"]}))
    assert env.sync(cid, trigger="reconcile").status == "succeeded"
    assert env.members("ops") == {"alice@example.com", "bob@example.com"}  # kept already
    env.write_directory(directory([ALICE, BOB], {"eng": ["u-alice"], "ops": ["u-alice"]}))
    env.cloud.requests.clear()
    third = env.sync(cid)
    assert third.status == "succeeded" and admin_checks(env) == 0
    assert env.members("eng") == {"alice@example.com", "bob@example.com"}
    assert any("Protected account" in n["message"] for n in json.loads(third.plan)["notices"])
    assert env.cloud.requests.writes() == []


def test_membership_removals_ask_per_account_until_the_admin_groups_were_read(env):
    cid = env.connection(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"]}),
                         {"policy": LENIENT})
    env.sync(cid)
    with extensions.db.session() as session:  # a mirror built before admin groups were read
        session.get(Connection, cid).admin_members_read_at = None
    env.cloud.site.make_admin(env.cloud.site.user_by_email("bob@example.com").account_id)
    env.write_directory(directory([ALICE, BOB], {"eng": ["u-alice"]}))
    env.cloud.requests.clear()
    run = env.sync(cid)
    assert run.status == "succeeded" and admin_checks(env) == 1
    assert env.members("eng") == {"alice@example.com", "bob@example.com"}


def test_a_site_admin_by_permission_check_is_never_suspended(env):
    from app.models.credential import CredentialKind
    from workers.atlassian.credentials import save_credential

    save_credential(extensions.db, env.installation_id, CredentialKind.ORG_API_KEY,
                    {"org_id": env.cloud.org_id, "api_key": env.cloud.org_api_key},
                    extensions.secrets.encrypt)
    d = directory([ALICE, BOB, CAROL], {"eng": ["u-alice", "u-bob", "u-carol"]})
    cid = env.connection(d, {"policy": LENIENT, "deprovision": "suspend"})
    env.sync(cid)
    site = env.cloud.site
    bob = site.user_by_email("bob@example.com")
    # Administer Jira through a group with an ordinary name: only the permission check knows
    leads = site.add_group("ops-leads")
    site.add_member(leads.group_id, bob.account_id)
    site.grant_global("ADMINISTER", "ops-leads")
    d["users"][1]["active"] = False
    env.write_directory(d)
    env.cloud.requests.clear()
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    assert admin_checks(env) == 1 and site.user(bob.account_id).is_active
    assert env.members("eng") == {"alice@example.com", "bob@example.com", "carol@example.com"}
    assert not env.cloud.requests.matching("POST", "/suspend")
    # carol, no admin, is suspended; the verdict on bob is remembered until the reconcile
    d["users"][2]["active"] = False
    env.write_directory(d)
    env.cloud.requests.clear()
    assert env.sync(cid).status == "succeeded"
    carol = site.user_by_email("carol@example.com")
    assert not site.user(carol.account_id).is_active and site.user(bob.account_id).is_active
    assert admin_checks(env) == 1  # carol only


def test_a_delta_run_loads_only_the_links_it_asks_for(env):
    from workers.sync import linkstore

    cid = env.connection(directory([ALICE, BOB, CAROL], {"eng": ["u-alice", "u-bob", "u-carol"]}))
    env.sync(cid)
    with extensions.db.session() as session:
        every = linkstore.load(session, cid)
        carol = every.users["u-carol"]
        linkstore.set_suspended(session, cid, every.users["u-bob"], True)
    with extensions.db.session() as session:
        some = linkstore.load(session, cid, users=["u-alice", "u-nobody"], accounts=[carol])
    assert some.users == {"u-alice": every.users["u-alice"], "u-carol": carol}
    assert some.groups == every.groups and some.suspended == {every.users["u-bob"]}
    with extensions.db.session() as session:  # more links added to those already loaded
        linkstore.load(session, cid, users=["u-bob"], into=some)
    assert some.users == every.users


def test_a_member_of_a_group_found_to_hold_admin_rights_keeps_other_memberships(env):
    from workers.sync import mirror

    cid = env.connection(directory([ALICE, BOB], {"eng": ["u-alice", "u-bob"], "ops": ["u-bob"]}),
                         {"policy": LENIENT})
    env.sync(cid)
    with extensions.db.session() as session:  # a Jira admin granted Administer Jira to ops
        mirror.judge(session, cid, {env.cloud.site.group_by_name("ops").group_id: True})
    env.write_directory(directory([ALICE, BOB], {"eng": ["u-alice"], "ops": ["u-bob"]}))
    env.cloud.requests.clear()
    run = env.sync(cid)
    assert run.status == "succeeded" and admin_checks(env) == 0
    assert env.members("eng") == {"alice@example.com", "bob@example.com"}


def mirror_rows(session, cid: int) -> tuple[set, set]:
    groups = set(session.execute(select(ManagedGroup.group_id, ManagedGroup.name,
                                        ManagedGroup.admin_rights, ManagedGroup.reconciled_at)
                                 .where(ManagedGroup.connection_id == cid)).all())
    members = set(session.execute(select(ManagedMembership.group_id, ManagedMembership.account_id,
                                         ManagedMembership.active)
                                  .where(ManagedMembership.connection_id == cid)).all())
    return groups, members


@pytest.mark.parametrize("seed", range(12))
def test_a_reconcile_writing_only_the_difference_leaves_what_a_rewrite_leaves(env, seed):
    rng = random.Random(seed)
    cid = env.connection(directory([ALICE], {"eng": ["u-alice"]}))
    now = datetime.now(UTC).replace(microsecond=0)
    gids, accs = [f"g-{i}" for i in range(8)], [f"a-{i}" for i in range(12)]

    def state() -> tuple[dict, dict, set, dict]:
        groups = {g: rng.choice(["one", "two", g]) for g in rng.sample(gids, rng.randint(0, 8))}
        members = {g: set(rng.sample(accs, rng.randint(0, 6)))
                   for g in rng.sample(gids, rng.randint(0, 8))}
        rights = {g: rng.choice([None, True, False]) for g in groups} if rng.random() < 0.3 else {}
        return groups, members, set(rng.sample(accs, rng.randint(0, 3))), rights

    before, after = state(), state()
    results = []
    for differential in (False, True):
        with extensions.db.session() as session:
            mirror.replace(session, cid, before[0], before[1], before[2], now, before[3])
            # an orphan row and a mixed flag: rows the differential write must put right too
            mirror.add_members(session, cid, [("g-orphan", "a-0")])
            mirror.add_members(session, cid, [(next(iter(before[0]), "g-0"), "a-11")],
                               active=False)
        with extensions.db.session() as session:
            stored = mirror.load(session, cid) if differential else None
            mirror.replace(session, cid, *after[:3], now, after[3], stored=stored)
        with extensions.db.session() as session:
            results.append(mirror_rows(session, cid))
            assert mirror.size(session, cid)[1] == len(results[-1][1])
    assert results[0] == results[1]
