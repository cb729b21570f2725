"""Benchmark of the admin plan page on the stored first-sync plan of the largest directory; prints JSON.

    .venv/bin/python bench/plan_page.py [--scale 0.1] [--seed 1] [--load]

Plans a first sync at Atlassian's largest directory (1,000,000 users, 250,000 groups,
8,000,000 memberships, times `--scale`; as bench/planner.py --max-directory), stores it as
a run's row does (`plan_store.dump`), then in a fresh process that holds only the stored
text (as the web process does once it has the row) reads pages of 50 as
`GET /api/admin/runs/<id>/plan` does: the first page, a middle one, the last one, and a
middle page of member additions (`kind=add_member`). For each: wall and CPU seconds and the
peak resident memory above the process's baseline with the text (Linux `VmHWM`, reset per
page). `--load` also times loading the whole plan, as the page did before.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.planner import MAX_DIRECTORY, generate, reset_peak, window_peak_mb  # noqa: E402
from workers.sync import mapping, plan_page, plan_store, planner  # noqa: E402
from workers.sync.planner import Current, Links  # noqa: E402
from workers.sync.policy import MappingPolicy, SyncPolicy  # noqa: E402

LIMIT = 50


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measured(fn, *args):  # type: ignore[no-untyped-def]
    """(result, figures): wall and CPU seconds, and peak RSS above the RSS before the call."""
    base = rss_mb()
    reset_peak()
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, {"s": round(time.perf_counter() - start, 3),
                    "cpu_s": round(time.process_time() - cpu, 3),
                    "peak_above_baseline_mb": round(window_peak_mb() - base, 1)}


def read_pages(path: str, ops: int, add_first: int, adds: int, load: bool) -> dict[str, object]:
    """In a fresh process: the pages an admin reads, from the stored text alone."""
    text = Path(path).read_text()
    out: dict[str, object] = {"baseline_rss_mb": rss_mb()}
    asks = {"first": (None, None), "middle": (ops // 2, None), "last": (ops - LIMIT - 1, None),
            "middle_add_member": (add_first + adds // 2, "add_member")}
    for name, (after, kind) in asks.items():
        got, figures = measured(plan_page.page, text, after, LIMIT, kind)
        out[name] = {**figures, "items": len(got.items), "first_index": got.items[0][0]}
    if load:
        plan, figures = measured(plan_store.load, text)
        out["load_whole"] = {**figures, "ops": len(plan.ops)}
    return out


def main(scale: float, seed: int, load: bool) -> dict[str, object]:
    users, groups, memberships = (int(n * scale) for n in MAX_DIRECTORY)
    snap = generate(users, groups, memberships, seed)
    want = mapping.desired(snap, MappingPolicy())
    del snap
    plan = planner.plan(want, Current(), Links(), SyncPolicy(invite_products=("jira-software",)))
    del want
    summary = plan.summary()
    start = time.perf_counter()
    text = plan_store.dump(plan)
    out: dict[str, object] = {"scale": scale, "ops": len(plan.ops), "summary": summary,
                              "store_s": round(time.perf_counter() - start, 3),
                              "stored_mb": round(len(text) / 2**20, 1),
                              "stored_compressed": plan_store.is_compressed(text)}
    add_first = sum(summary[k] for k in list(summary)[:list(summary).index("add_member")])
    with tempfile.TemporaryDirectory(prefix="bench-plan-page-") as tmp:
        path = Path(tmp) / "plan.txt"
        path.write_text(text)
        ops = len(plan.ops)
        del text, plan
        done = subprocess.run([sys.executable, __file__, "--read", str(path), str(ops),
                               str(add_first), str(summary["add_member"]), str(int(load))],
                              capture_output=True, text=True, check=True)
    out["pages_fresh_process"] = json.loads(done.stdout)
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--read":
        path, ops, first, adds, load = sys.argv[2:7]
        print(json.dumps(read_pages(path, int(ops), int(first), int(adds), load == "1")))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load", action="store_true",
                        help="also load the whole stored plan, as the page did before")
    args = parser.parse_args()
    print(json.dumps(main(args.scale, args.seed, args.load)))
