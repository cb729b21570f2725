"""Benchmark of every IdP source's full fetch against its sandbox over loopback HTTP; prints JSON.

    .venv/bin/python bench/sources.py [--scale 0.1] [--kinds keycloak,okta] [--latency 0.02] [--no-op]

Full scale: 20,000 users, 2,000 groups, 100,000 direct memberships, a tenth of the groups
nested, 20 ms added to every answer (LDAP: a real slapd on loopback, no added latency). Every module in sandbox/idps/ that has `KIND`, `serve`
and `min_requests` is measured with the source registered under that KIND and the settings
its sandbox hands out. Per kind: `seconds` (wall time of fetch()), `requests` (served by the
sandbox), `min_requests` (the fewest a full fetch can need), and what the snapshot held.

`--no-op` measures instead a scheduled run on an unchanged directory: after an unmeasured full
read, a new source (as a new run builds one) is asked what the engine asks it,
`read_changes(cursor)`, or `fetch_changes` when that gives None (or `fetch` without a cursor).
Per kind: `path` (which of those answered), `unchanged` (the change read was empty), `requests`,
`seconds`, and `cpu_seconds` (this process's CPU: the source and the sandbox serving it), with
`full_read_requests` (the sandbox's `min_requests`) for scale, and `base_decode_cpu_seconds`:
what decoding the stored base costs the engine on top, spent only when the read was not empty
(0 otherwise; planning, skipped likewise, is not counted). LDAP is left out of this mode.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import pkgutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sandbox.idps as idps  # noqa: E402
from sandbox.idps.directory import Directory  # noqa: E402
from workers.sources import registry  # noqa: E402
from workers.sync import snapshots as stored_base  # noqa: E402


def sandbox_modules() -> dict[str, ModuleType]:
    """KIND -> sandbox module, for every module that honours the sandbox contract."""
    found = {}
    for info in pkgutil.iter_modules(idps.__path__):
        module = importlib.import_module(f"{idps.__name__}.{info.name}")
        if all(hasattr(module, name) for name in ("KIND", "serve", "min_requests")):
            found[module.KIND] = module
    return dict(sorted(found.items()))


def measure(module: ModuleType, directory: Directory, latency: float) -> dict[str, Any]:
    """One full fetch of `directory` through the sandbox of `module`."""
    with module.serve(directory, latency=latency) as handle:
        source = registry.build(module.KIND, handle.settings, allow_private=True)
        _reset(handle)
        started = time.perf_counter()
        snapshot = source.fetch()
        seconds = time.perf_counter() - started
        served = handle.requests
    expected_members = sum(len(t.member_ids) for t in directory.teams.values())
    return {"seconds": round(seconds, 3), "requests": served,
            "min_requests": module.min_requests(directory),
            "requests_per_second": round(served / seconds, 1) if seconds else None,
            "users": len(snapshot.users), "groups": len(snapshot.groups),
            "memberships": snapshot.membership_count, "complete": snapshot.complete,
            "matches_directory": (len(snapshot.users) == len(directory.people)
                                  and len(snapshot.groups) == len(directory.teams)
                                  and snapshot.membership_count == expected_members)}


NO_OP_SETTINGS = {"keycloak": {"use_admin_events": True}}
"""What a kind's settings need before it reads changes at all."""


def measure_no_op(module: ModuleType, directory: Directory, latency: float) -> dict[str, Any]:
    """What one scheduled run asks the IdP when nothing changed since the last full read."""
    with module.serve(directory, latency=latency) as handle:
        settings = {**handle.settings, **NO_OP_SETTINGS.get(module.KIND, {})}
        first = registry.build(module.KIND, settings, allow_private=True).fetch()
        source = registry.build(module.KIND, settings, allow_private=True)
        _reset(handle)
        started, cpu = time.perf_counter(), time.process_time()
        pending = source.read_changes(first.cursor) if first.cursor else None
        if pending is not None:
            path, unchanged = "read_changes", pending.empty
        elif first.cursor:
            path, unchanged = "fetch_changes", False
            source.fetch_changes(first, first.cursor)
        else:
            path, unchanged = "fetch", False
            source.fetch()
        cpu, seconds = time.process_time() - cpu, time.perf_counter() - started
        served = handle.requests
    decode_cpu = 0.0
    if not unchanged:  # the engine loads its stored base before it applies a change read
        blob = stored_base.encode(first)
        decode_cpu = time.process_time()
        stored_base.decode(blob, first.cursor)
        decode_cpu = time.process_time() - decode_cpu
    return {"path": path, "unchanged": unchanged, "requests": served,
            "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "base_decode_cpu_seconds": round(decode_cpu, 3),
            "full_read_requests": module.min_requests(directory)}


def measure_ldap(directory: Directory, page_size: int = 1000) -> dict[str, Any]:
    """A full fetch from a real slapd (LDAP has no HTTP sandbox); counts binds and search pages."""
    import math

    import ldap3

    from tests.sources import slapd

    uid = {p.id: p.username for p in directory.people.values()}
    ldif = "".join(slapd.person_ldif(p.username, mail=p.email) for p in directory.people.values())
    ldif += "".join(slapd.group_ldif(t.name, [slapd.user_dn(uid[m]) for m in t.member_ids]
                                     + [slapd.group_dn(c.name) for c in directory.children(t.id)])
                    for t in directory.teams.values())
    calls = {"bind": 0, "search": 0}
    originals = {name: getattr(ldap3.Connection, name) for name in calls}

    def counting(name: str):  # type: ignore[no-untyped-def]
        def call(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return originals[name](self, *args, **kwargs)
        return call

    with slapd.Slapd(ldif) as server:
        source = registry.build("ldap", {
            "url": server.url, "bind_dn": slapd.ROOT_DN, "bind_password": slapd.ROOT_PASSWORD,
            "base_dn": slapd.SUFFIX, "page_size": page_size}, allow_private=True)
        for name in calls:
            setattr(ldap3.Connection, name, counting(name))
        try:
            started = time.perf_counter()
            snapshot = source.fetch()
            seconds = time.perf_counter() - started
        finally:
            for name, original in originals.items():
                setattr(ldap3.Connection, name, original)
    # One bind, every page of users and of groups, and one search for the disabled users.
    fewest = 1 + math.ceil(len(directory.people) / page_size) + math.ceil(len(directory.teams) / page_size) + 1
    return {"seconds": round(seconds, 3), "requests": calls["bind"] + calls["search"],
            "min_requests": fewest, "binds": calls["bind"], "search_pages": calls["search"],
            "users": len(snapshot.users), "groups": len(snapshot.groups),
            "memberships": snapshot.membership_count, "complete": snapshot.complete}


def _reset(handle: Any) -> None:
    if hasattr(handle, "reset"):
        handle.reset()
    else:
        handle.requests = 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    parser.add_argument("--kinds", default="", help="comma-separated source kinds (default all)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added per answer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-op", action="store_true",
                        help="measure a run on an unchanged directory instead of a full fetch")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request drowns the JSON
    modules = sandbox_modules()
    wanted = [k for k in args.kinds.split(",") if k] or [*modules, *([] if args.no_op else ["ldap"])]
    unknown = [k for k in wanted if k not in modules and k != "ldap"]
    if args.no_op and "ldap" in wanted:
        parser.error("--no-op measures the HTTP sandboxes only, not LDAP")
    if unknown:
        parser.error(f"no sandbox for {', '.join(unknown)}; known: {', '.join(modules)}")
    directory = Directory.generate(users=max(1, int(20_000 * args.scale)),
                                   groups=max(1, int(2_000 * args.scale)),
                                   memberships=max(1, int(100_000 * args.scale)), seed=args.seed)
    results: dict[str, Any] = {}
    for kind in wanted:
        try:
            if args.no_op:
                results[kind] = measure_no_op(modules[kind], directory, args.latency)
            else:
                results[kind] = (measure_ldap(directory) if kind == "ldap"
                                 else measure(modules[kind], directory, args.latency))
        except Exception as exc:  # one broken kind must not hide the others' figures
            results[kind] = {"error": f"{type(exc).__name__}: {exc}"}
        results[kind].update(scale=args.scale, latency=0.0 if kind == "ldap" else args.latency)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
