"""Benchmark of the sync core (mapping + planner + guard) on a large seeded directory; prints JSON.

    .venv/bin/python bench/planner.py [--scale 0.1] [--seed 1] [--json-plan]
    .venv/bin/python bench/planner.py --max-directory [--json-plan] [--recorded] [--scale 0.01]

Full scale: 100,000 users, 10,000 groups, 1,000,000 direct memberships, a tenth of the
groups nested one level. `first_plan_s`: a first sync (nothing on the site yet). `change_plan_s`:
a 1 % change (memberships moved, users disabled, joined, e-mails changed, groups renamed)
against an already synced site. `--max-directory`: a first run at Atlassian's largest
directory (1,000,000 users, 250,000 groups, 8,000,000 memberships; `--scale` shrinks it):
`first_plan_seconds` (mapping + planner, wall), then under `stages` the seconds, CPU seconds
and peak RSS of each step a first run takes: `generate` (the snapshot, as fetched), `mapping`,
`planner`, `store` (the engine's `finish` writing the plan into a SyncRun row of a real SQLite
database), `apply` (the product's Executor over every op, to a site that answers at once and
a database session that drops the records: what walking the plan costs, not HTTP or ten
million inserts), and `load_fresh_process` (the stored plan read back by a new process, as the
preview page and an approval do); with `--recorded`, `apply_recorded` applies once more
and keeps the records (Change rows, links, mirror) in the SQLite database. Each peak is the whole process's in that stage's window
(Linux `VmHWM`, reset per stage), the snapshot included.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import Database  # noqa: E402
from app.models import SyncRun  # noqa: E402
from workers.atlassian.memberships import MembershipOp, MembershipResult  # noqa: E402
from workers.atlassian.target import AtlassianGroup, AtlassianUser  # noqa: E402
from workers.sync import engine, guard, mapping, plan_store, planner  # noqa: E402
from workers.sync.executor import Executor  # noqa: E402
from workers.sync.model import Group, Snapshot, User  # noqa: E402
from workers.sync.plan import Plan, bulk_allocation  # noqa: E402
from workers.sync.planner import Current, Links  # noqa: E402
from workers.sync.policy import GuardPolicy, MappingPolicy, SyncPolicy  # noqa: E402
from workers.vocabulary import RunStatus  # noqa: E402


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


def reset_peak() -> bool:
    """Start a new peak-RSS window (Linux: `5` to clear_refs resets VmHWM); False if not."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def window_peak_mb() -> float:
    """The process's peak resident memory since the last `reset_peak` (all it holds)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return peak_rss_mb()


def stage(stages: dict[str, dict[str, float]], name: str, fn, *args):  # type: ignore[no-untyped-def]
    """Run one stage of a first run; record its wall and CPU seconds and its peak RSS."""
    reset_peak()
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    stages[name] = {"s": round(time.perf_counter() - start, 3),
                    "cpu_s": round(time.process_time() - cpu, 3), "peak_rss_mb": window_peak_mb()}
    return result


class CountingSite:
    """The site for the apply stage: answers every write at once, creates and invites with
    made-up ids, counts. No HTTP: the stage measures the executor's walk over the plan."""

    concurrency = 1  # nothing to wait for, so no thread pool
    writes = 0

    def create_group(self, name: str) -> AtlassianGroup:
        self.writes += 1
        return AtlassianGroup(f"G-{name}", name)

    def invite_user(self, email: str, display_name: str, products: list[str]) -> AtlassianUser:
        self.writes += 1
        return AtlassianUser(f"acc-{email}", email, display_name)

    def apply_memberships(self, ops: list[MembershipOp]) -> list[MembershipResult]:
        self.writes += len(ops)
        return [MembershipResult(op, ok=True) for op in ops]


class _Nothing:
    """An empty result: no rows, no first row, no row changed."""

    rowcount = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(())

    def first(self) -> None:
        return None

    def all(self) -> list[object]:
        return []


class DiscardingSession:
    """Takes the executor's records and keeps none: each chunk's Change rows, links and
    mirror rows are built as in a run (the executor's own code) and then dropped, so the
    stage shows what walking the plan costs without ten million SQLite inserts."""

    class _Bind:
        class dialect:  # noqa: N801 - the attribute path the mirror's writer reads
            name = "sqlite"
            supports_sane_multi_rowcount = True

    def add(self, obj: object) -> None:
        pass

    def add_all(self, objs: object) -> None:
        pass

    def execute(self, *args: object, **kwargs: object) -> _Nothing:
        return _Nothing()

    scalars = execute

    def scalar(self, *args: object, **kwargs: object) -> None:
        return None

    def get_bind(self) -> type:
        return self._Bind


class DiscardingDatabase:
    @contextmanager
    def session(self) -> Iterator[DiscardingSession]:
        yield DiscardingSession()


def stored_run(url: str) -> int:
    """A migrated SQLite database with one installation, connection and running run."""
    from app import migrate
    from app.models import Connection, Installation, SyncRun

    migrate.upgrade(url)
    db = Database().configure(url)
    with db.session() as session:
        inst = Installation(client_key="bench", product_type="jira",
                            base_url="https://bench.atlassian.net")
        session.add(inst)
        session.flush()
        conn = Connection(installation_id=inst.id, name="bench", kind="directory_file",
                          settings={}, mapping={}, filters={}, default_groups=[], policy={})
        session.add(conn)
        session.flush()
        run = SyncRun(connection_id=conn.id, trigger="manual", dry_run=False,
                      status=RunStatus.RUNNING, counts={})
        session.add(run)
        session.flush()
        return run.id


def read_stored(url: str, run_id: int) -> dict[str, object]:
    """In a fresh process: read the stored plan back as the preview page and an approval do."""
    db = Database().configure(url)
    stages: dict[str, dict[str, float]] = {}
    with db.session() as session:
        text = session.get(SyncRun, run_id).plan
    plan = stage(stages, "load", plan_store.load, text)
    return {"ops": len(plan.ops), **stages["load"]}


def first_run_stages(plan: Plan, stages: dict[str, dict[str, float]],
                     recorded: bool = False) -> dict[str, object]:
    """Store the plan as a run does (a real SQLite row), apply it through the executor to
    the counting site (and, if `recorded`, again into the database), then read the stored
    plan back in a fresh process."""
    import subprocess
    import tempfile

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench-planner-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        run_id = stored_run(url)
        db = Database().configure(url)
        stage(stages, "store", engine.finish, db, run_id, RunStatus.HELD, None, None, plan)
        with db.session() as session:
            text = session.get(SyncRun, run_id).plan
            out["stored_mb"] = round(len(text) / 2**20, 1)
            out["stored_compressed"] = plan_store.is_compressed(text)
        del text
        site = CountingSite()
        applied = stage(stages, "apply", Executor(DiscardingDatabase(), run_id, 1, site,
                                                  Links()).apply, plan)
        out["applied"], out["site_writes"] = applied.applied, site.writes
        if recorded:
            out["recorded_rows"] = apply_recorded(db, run_id, plan, stages)
        db.engine.dispose()
        done = subprocess.run([sys.executable, __file__, "--read-stored", url, str(run_id)],
                              capture_output=True, text=True, check=True)
        stages["load_fresh_process"] = json.loads(done.stdout)
    return out


def apply_recorded(db: Database, run_id: int, plan: Plan,
                   stages: dict[str, dict[str, float]]) -> dict[str, int]:
    """The executor over the plan again, its records kept this time: Change rows, links and
    the mirror written into the SQLite database, as a first run writes them."""
    from sqlalchemy import func, select

    from app.models import Change, Link, ManagedGroup, ManagedMembership

    with db.session() as session:
        connection_id = session.get(SyncRun, run_id).connection_id
    stage(stages, "apply_recorded", Executor(db, run_id, connection_id, CountingSite(),
                                             Links()).apply, plan)
    with db.session() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Change, Link, ManagedGroup, ManagedMembership)}


def max_directory(seed: int, json_plan: bool, scale: float = 1.0,
                  recorded: bool = False) -> dict[str, object]:
    """The first plan at the largest directory and what a first run does with it next:
    seconds, CPU seconds and peak memory per stage. Each stage's peak is the whole
    process's, the generated snapshot included (a worker holds the fetched one throughout)."""
    users, groups, memberships = (int(n * scale) for n in MAX_DIRECTORY)
    stages: dict[str, dict[str, float]] = {}
    snap = stage(stages, "generate", generate, users, groups, memberships, seed)
    sync_policy = SyncPolicy(invite_products=("jira-software",))
    want = stage(stages, "mapping", mapping.desired, snap, MappingPolicy())
    first = stage(stages, "planner", planner.plan, want, Current(), Links(), sync_policy)
    del want  # a run keeps the plan, not the desired state, once planned
    plan_s = stages["mapping"]["s"] + stages["planner"]["s"]
    out: dict[str, object] = {
        "users": len(snap.users), "groups": len(snap.groups),
        "memberships": snap.membership_count, "ops": len(first.ops), "summary": first.summary(),
        "first_plan_seconds": round(plan_s, 3),
        "first_plan_cpu_s": round(stages["mapping"]["cpu_s"] + stages["planner"]["cpu_s"], 3),
        "snapshot_rss_mb": stages["generate"]["peak_rss_mb"],
        "planning_peak_rss_mb": max(stages["mapping"]["peak_rss_mb"],
                                    stages["planner"]["peak_rss_mb"])}
    if json_plan:
        text = stage(stages, "to_json", first.to_json)
        out["first_plan_json_mb"] = round(len(text) / 2**20, 1)
        del text
    out.update(first_run_stages(first, stages, recorded))
    out["stages"] = stages
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json-plan", action="store_true", help="also time the first plan's JSON")
    parser.add_argument("--max-directory", action="store_true",
                        help="only the first run at 1,000,000 users, 250,000 groups and "
                             "8,000,000 memberships (times --scale): plan, store, apply, read")
    parser.add_argument("--recorded", action="store_true",
                        help="with --max-directory: apply once more into the database "
                             "(Change rows, links, mirror), stage `apply_recorded`")
    parser.add_argument("--read-stored", nargs=2, metavar=("URL", "RUN_ID"),
                        help=argparse.SUPPRESS)  # the fresh process of the read-back stage
    args = parser.parse_args()
    if args.read_stored:
        print(json.dumps(read_stored(args.read_stored[0], int(args.read_stored[1]))))
        return
    if args.max_directory:
        print(json.dumps(max_directory(args.seed, args.json_plan, args.scale, args.recorded)))
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
