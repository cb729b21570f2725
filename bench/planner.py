"""Benchmark of the sync core (mapping + planner + guard) on a large seeded directory; prints JSON.

    .venv/bin/python bench/planner.py [--scale 0.1] [--seed 1] [--json-plan]
    .venv/bin/python bench/planner.py --max-directory [--json-plan]

Full scale: 100,000 users, 10,000 groups, 1,000,000 direct memberships, a tenth of the
groups nested one level. `first_plan_s`: a first sync (nothing on the site yet). `change_plan_s`:
a 1 % change (memberships moved, users disabled, joined, e-mails changed, groups renamed)
against an already synced site. `--max-directory`: the first plan at Atlassian's largest
directory (1,000,000 users, 250,000 groups, 8,000,000 memberships), `first_plan_seconds`
(mapping + planner, wall) and `peak_rss_mb` (the whole process, snapshot included).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workers.sync import guard, mapping, planner  # noqa: E402
from workers.sync.model import Group, Snapshot, User  # noqa: E402
from workers.sync.plan import Plan, bulk_allocation  # noqa: E402
from workers.sync.planner import Current, Links  # noqa: E402
from workers.sync.policy import GuardPolicy, MappingPolicy, SyncPolicy  # noqa: E402


def generate(users: int, groups: int, memberships: int, seed: int) -> Snapshot:
    """A seeded directory built straight into a Snapshot, as a source would hand it over.

    Members are drawn from one block of random bytes (one C call) rather than a sample per
    group: at the maximum directory that is 8 million draws.
    """
    rng = random.Random(seed)
    snap = Snapshot()
    with bulk_allocation():
        uids = [f"u{i:07d}" for i in range(users)]
        for i, uid in enumerate(uids):
            snap.users[uid] = User(uid, f"user{i:07d}@example.com", f"User {i}")
        per_group = min(max(1, memberships // max(groups, 1)), users)
        draws = array("I", rng.randbytes(4 * per_group * groups))
        for j in range(groups):
            gid = f"g{j:06d}"
            parent = (f"g{rng.randrange(j):06d}",) if j and rng.random() < 0.1 else ()
            snap.groups[gid] = Group(gid, f"team-{j:06d}", parent)
            members = {uids[k % users] for k in draws[j * per_group:(j + 1) * per_group]}
            while len(members) < per_group:  # a repeated draw: rare, topped up
                members.add(uids[rng.randrange(users)])
            snap.members[gid] = members
    return snap


def synced_state(want: mapping.Desired) -> tuple[Current, Links]:
    """The site and links as a completed first sync leaves them."""
    links = Links(users={uid: f"acc-{uid}" for uid in want.users})
    current = Current()
    for key, target in want.groups.items():
        gid = f"G-{key}"
        current.groups[gid] = target.name
        current.members[gid] = {links.users[uid] for uid in want.members[key]}
        for idp_group_id in target.idp_group_ids:
            links.groups[idp_group_id] = gid
    return current, links


def change(snap: Snapshot, fraction: float, seed: int) -> Snapshot:
    """A copy of `snap` with `fraction` of memberships moved and of users changed."""
    rng = random.Random(seed + 1)
    changed = Snapshot(users=dict(snap.users), groups=dict(snap.groups),
                       members={gid: set(m) for gid, m in snap.members.items()})
    uids, gids = list(snap.users), list(snap.groups)
    moves = int(snap.membership_count * fraction / 2)
    for _ in range(moves):
        changed.members[rng.choice(gids)].discard(rng.choice(uids))
        changed.members[rng.choice(gids)].add(rng.choice(uids))
    some = max(1, int(len(uids) * fraction / 3))
    for uid in rng.sample(uids, some):
        old = changed.users[uid]
        changed.users[uid] = User(uid, old.email, old.display_name, active=False)
    for uid in rng.sample(uids, some):
        old = changed.users[uid]
        changed.users[uid] = User(uid, "new." + old.email, old.display_name)
    for i in range(some):
        uid = f"new{i:06d}"
        changed.users[uid] = User(uid, f"{uid}@example.com", uid)
        changed.members[rng.choice(gids)].add(uid)
    for gid in rng.sample(gids, max(1, int(len(gids) * fraction))):
        changed.groups[gid] = Group(gid, changed.groups[gid].name + "-renamed",
                                    changed.groups[gid].parent_ids)
    return changed


CPU: dict[str, float] = {}
"""CPU seconds per timed step: on a shared machine wall time says more about the neighbours."""


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    CPU[getattr(fn, "__name__", "step")] = time.process_time() - cpu
    return result, round(time.perf_counter() - start, 3)


def cpu_of(*names: str) -> float:
    return round(sum(CPU[name] for name in names), 3)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


MAX_DIRECTORY = (1_000_000, 250_000, 8_000_000)
"""The largest directory Atlassian allows an organization: users, groups, memberships."""


def max_directory(seed: int, json_plan: bool) -> dict[str, object]:
    """The first plan at the largest directory: seconds and the process's peak memory, which
    includes the generated snapshot itself (as a worker holds the fetched one)."""
    users, groups, memberships = MAX_DIRECTORY
    snap, generate_s = timed(generate, users, groups, memberships, seed)
    snapshot_rss_mb = peak_rss_mb()
    sync_policy = SyncPolicy(invite_products=("jira-software",))
    want, mapping_s = timed(mapping.desired, snap, MappingPolicy())
    first, planner_s = timed(planner.plan, want, Current(), Links(), sync_policy)
    out: dict[str, object] = {
        "users": len(snap.users), "groups": len(snap.groups),
        "memberships": snap.membership_count, "ops": len(first.ops), "summary": first.summary(),
        "generate_s": generate_s, "snapshot_rss_mb": snapshot_rss_mb,
        "mapping_s": mapping_s, "planner_s": planner_s,
        "first_plan_seconds": round(mapping_s + planner_s, 3),
        "first_plan_cpu_s": cpu_of("desired", "plan"), "peak_rss_mb": peak_rss_mb()}
    if json_plan:
        text, out["first_plan_json_s"] = timed(first.to_json)
        out["first_plan_json_mb"] = round(len(text) / 2**20, 1)
        out["peak_rss_with_json_mb"] = peak_rss_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json-plan", action="store_true", help="also time the first plan's JSON")
    parser.add_argument("--max-directory", action="store_true",
                        help="only the first plan at 1,000,000 users, 250,000 groups and "
                             "8,000,000 memberships")
    args = parser.parse_args()
    if args.max_directory:
        print(json.dumps(max_directory(args.seed, args.json_plan)))
        return
    n_users, n_groups = int(100_000 * args.scale), int(10_000 * args.scale)
    n_memberships = int(1_000_000 * args.scale)
    mapping_policy, sync_policy = MappingPolicy(), SyncPolicy(invite_products=("jira-software",))

    snap, generate_s = timed(generate, n_users, n_groups, n_memberships, args.seed)
    want, first_mapping_s = timed(mapping.desired, snap, mapping_policy)
    first, first_planner_s = timed(planner.plan, want, Current(), Links(), sync_policy)
    out = {"scale": args.scale, "users": n_users, "groups": n_groups,
           "memberships": snap.membership_count, "generate_s": generate_s,
           "first_mapping_s": first_mapping_s, "first_planner_s": first_planner_s,
           "first_plan_s": round(first_mapping_s + first_planner_s, 3),
           "first_plan_cpu_s": cpu_of("desired", "plan"),
           "first_ops": len(first.ops), "first_summary": first.summary()}
    if args.json_plan:
        text, out["first_plan_json_s"] = timed(first.to_json)
        out["first_plan_json_mb"] = round(len(text) / 2**20, 1)
        del first
        _, out["first_plan_load_s"] = timed(Plan.from_json, text)
        del text, _
    else:
        del first

    current, links = synced_state(want)
    changed = change(snap, 0.01, args.seed)
    del want, snap
    want2, change_mapping_s = timed(mapping.desired, changed, mapping_policy)
    plan2, change_planner_s = timed(planner.plan, want2, current, links, sync_policy)
    verdict, guard_s = timed(lambda: guard.check(plan2, complete=True, policy=GuardPolicy(),
                                                 previous_user_count=n_users))
    out.update({"change_mapping_s": change_mapping_s, "change_planner_s": change_planner_s,
                "change_plan_s": round(change_mapping_s + change_planner_s, 3),
                "change_plan_cpu_s": cpu_of("desired", "plan"),
                "change_ops": len(plan2.ops), "change_summary": plan2.summary(),
                "change_notices": len(plan2.notices), "guard_s": guard_s,
                "guard_decision": verdict.decision,
                "peak_rss_mb": peak_rss_mb()})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
