"""Benchmark: what ordinary runs cost once the mirror stands. Prints one JSON object.

A directory of N users, G groups and M memberships is served by the sandbox Entra ID (Graph
delta queries); the sandbox site holds the same groups and members. The state a converged
first sync leaves (links, the mirror, the IdP base and cursor, one succeeded run) is laid
down directly: a first sync of a million memberships is sync_e2e's subject, not this one's.
Then, through the real pipeline over HTTP:

1. a no-op scheduled run (nothing changed in the IdP);
2. a run after 0.1 % of the memberships changed in the IdP (half joins, half leaves);
3. a reconcile after manual edits of managed groups on the site: drift found and corrected.

Atlassian calls come from the sandbox site's request log. CPU is `time.thread_time()` of the
thread that runs the pipeline (the sandbox servers run in this process too; their CPU is not
the engine's) and `time.process_time()` of the whole process, both around the run.

    python bench/cost.py [--scale 0.1]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from app import extensions, migrate  # noqa: E402
from app.models import Connection, Link, ManagedGroup, ManagedMembership, SyncRun  # noqa: E402
from sandbox.idps import entra  # noqa: E402
from sandbox.idps.directory import Directory  # noqa: E402
from tests.engine.harness import Stack, stack  # noqa: E402
from tests.engine.sources_fixtures import connect  # noqa: E402
from workers.sync import engine, snapshots  # noqa: E402
from workers.sync import run as run_context

LENIENT = {"max_removal_percent": 100, "max_users_affected": 10**9, "on_unmatched": "skip"}


def seed_site(env: Stack, d: Directory) -> tuple[dict[str, str], dict[str, str]]:
    """The site as a converged sync leaves it: every person an account, every team a group."""
    site = env.cloud.site
    accounts = {p.id: site.add_user(p.email, p.display_name).account_id for p in d.person_list()}
    groups: dict[str, str] = {}
    members = _flattened(d)
    for team in d.team_list():
        gid = site.add_group(team.name).group_id
        groups[team.id] = gid
        for pid in members[team.id]:
            site.add_member(gid, accounts[pid])
    return accounts, groups


def _flattened(d: Directory) -> dict[str, set[str]]:
    """Each team's members with its child teams' (Entra reads are direct; the mapping flattens)."""
    out = {t.id: set(t.member_ids) for t in d.team_list()}
    for team in d.team_list():  # one level of nesting in the generated directory
        if team.parent_id:
            out[team.parent_id] |= set(team.member_ids)
    return out


def seed_state(env: Stack, cid: int, d: Directory, accounts: dict[str, str],
               groups: dict[str, str]) -> None:
    """Links, mirror, stored base and one converged run, as after a first sync."""
    db = extensions.db
    members = _flattened(d)
    now = datetime.now(UTC)
    with db.session() as session:
        session.execute(insert(Link), [
            {"connection_id": cid, "kind": "user", "idp_id": pid, "atlassian_id": acc,
             "suspended": False} for pid, acc in accounts.items()])
        session.execute(insert(Link), [
            {"connection_id": cid, "kind": "group", "idp_id": tid, "atlassian_id": gid,
             "suspended": False} for tid, gid in groups.items()])
        session.execute(insert(ManagedGroup), [
            {"connection_id": cid, "group_id": gid, "name": d.teams[tid].name,
             "admin_rights": False, "reconciled_at": now} for tid, gid in groups.items()])
        rows = [{"connection_id": cid, "group_id": groups[tid], "account_id": accounts[pid],
                 "active": True} for tid, pids in members.items() for pid in pids]
        for start in range(0, len(rows), 20000):
            session.execute(insert(ManagedMembership), rows[start:start + 20000])
        conn = session.get(Connection, cid)
        conn.reconciled_at = now
        conn.policy = {**LENIENT, "invite_domains": ["example.com"]}
        basis = run_context.basis_of(conn)
    # the IdP base: a real full read, kept as a converged run keeps it
    run_id = engine.start_run(db, cid, "manual", False)
    with db.session() as session:
        source = run_context.make_source(session.get(Connection, cid), extensions.secrets.decrypt,
                                         True)
    fetched = snapshots.fetch(db, run_id, source)
    snapshots.keep(db, fetched, "succeeded", True)
    users = sum(1 for p in d.person_list() if any(p.id in m for m in members.values()))
    with db.session() as session:
        run = session.get(SyncRun, run_id)
        run.status, run.finished_at = "succeeded", datetime.now(UTC)
        run.counts = {"basis": basis, "applied": sum(map(len, members.values())), "failed": 0,
                      "skipped": 0, "desired_users": users, "idp_users": len(d.people),
                      "managed_groups": len(groups),
                      "managed_memberships": sum(map(len, members.values()))}


def measured(env: Stack, cid: int, trigger: str = "schedule") -> dict[str, Any]:
    env.cloud.requests.clear()
    wall, thread, process = time.monotonic(), time.thread_time(), time.process_time()
    run = env.sync(cid, trigger=trigger)
    thread, process = time.thread_time() - thread, time.process_time() - process
    log = env.cloud.requests.all()
    writes = [r for r in log if r.is_write]
    counts = run.counts or {}
    return {"status": run.status, "planning": counts.get("planning"),
            "site_reads": counts.get("site_reads"), "fetch": counts.get("fetch"),
            "ops": run.ops_total, "atlassian_calls": len(log), "writes": len(writes),
            "member_reads": sum(1 for r in log if r.path.endswith("/group/member")),
            "cpu_s_engine_thread": round(thread, 3), "cpu_s_process": round(process, 3),
            "wall_s": round(time.monotonic() - wall, 3), "drift": counts.get("drift"),
            "reason": run.reason if run.status != "succeeded" else None}


def change_memberships(d: Directory, fraction: float, rng: random.Random) -> int:
    """Half joins, half leaves, over `fraction` of the direct memberships; stamps the teams."""
    teams = d.team_list()
    total = sum(len(t.member_ids) for t in teams)
    changes = max(2, int(total * fraction))
    people = list(d.people)
    done = 0
    while done < changes:
        team = rng.choice(teams)
        if done % 2 == 0:
            pid = rng.choice(people)
            if pid in team.member_ids:
                continue
            team.member_ids.append(pid)
        else:
            if not team.member_ids:
                continue
            team.member_ids.remove(rng.choice(team.member_ids))
        team.updated = time.time()
        done += 1
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--change", type=float, default=0.001, help="fraction of memberships")
    parser.add_argument("--drift", type=int, default=10, help="manual edits before the reconcile")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    users, groups = int(100_000 * args.scale), max(1, int(10_000 * args.scale))
    memberships = int(1_000_000 * args.scale)
    tmp = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    config = {"DATABASE_URL": url, "SECRET_KEYS": [Fernet.generate_key().decode()],
              "INSTANCE_PATH": str(tmp), "ALLOW_PRIVATE_URLS": True, "LOG_LEVEL": "WARNING",
              "LOG_FORMAT": "text", "REDIS_URL": "redis://127.0.0.1:1/0"}
    d = Directory.generate(users, groups, memberships, seed=11)
    rng = random.Random(5)
    started = time.monotonic()
    with stack(config, tmp, validate=False) as env, entra.serve(d) as idp:
        accounts, site_groups = seed_site(env, d)
        cid = connect(env, entra.KIND, idp.settings)
        seed_state(env, cid, d, accounts, site_groups)
        setup_s = time.monotonic() - started
        noop = measured(env, cid)
        changed = change_memberships(d, args.change, rng)
        delta = measured(env, cid)
        site = env.cloud.site
        edited = rng.sample(sorted(site_groups.values()), min(args.drift, len(site_groups)))
        for gid in edited:  # someone removes a synced member by hand
            first = next(iter(site.members(gid)), None)
            if first is not None:
                site.remove_member(gid, first.account_id)
        reconcile = measured(env, cid, trigger="reconcile")
        after = measured(env, cid)
    result = {
        "users": users, "groups": groups, "memberships": sum(len(t.member_ids) for t in d.team_list()),
        "setup_s": round(setup_s, 1),
        "noop": noop,
        "noop_goals": {"calls_max": 10, "cpu_s_max": 0.5,
                       "met": noop["atlassian_calls"] <= 10 and noop["cpu_s_engine_thread"] < 0.5},
        "change": {**delta, "idp_membership_changes": changed},
        "change_goals": {"calls_max": round(1.1 * delta["writes"] + 10, 1), "cpu_s_max": 1.0,
                         "met": delta["atlassian_calls"] <= 1.1 * delta["writes"] + 10
                         and delta["cpu_s_engine_thread"] < 1.0},
        "reconcile": {**reconcile, "manual_edits": len(edited)},
        "after_reconcile": after,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
