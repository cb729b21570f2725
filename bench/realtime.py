"""Benchmark: IdP webhook → Atlassian change, with a real `rq worker`. Prints one JSON object.

A sandbox Okta org with N users sends its real event hook deliveries (registered and verified
by Okta's own handshake) to the app over HTTP; the worker applies them to the sandbox site.

    python bench/realtime.py [--users 1000] [--events 50] [--storm 1000 (0: none)]

Set-up (timed and described under "setup" and "first_sync"): the site has an account for
every IdP user and the IdP's groups with the same members, the synced users' accounts are
linked with the product's link store, and the first sync, enqueued and run by an rq worker,
adopts the groups (reads, no membership writes). `--link-in-first-sync` leaves the linking to
the first sync (a site look-up per account); `--write-first-sync` gives the site no groups, so
the first sync writes every group and membership.

Reports: webhook → Atlassian change latency p50/p95 over `--events` group removals (one at a
time), IdP and Atlassian calls per event, handler p50/p99, the event worker's peak memory, and
a storm of `--storm` removals for one connection sent to the Procfile's gunicorn as fast as 16
keep-alive connections are answered (how long it took, the CPU it cost, the most syncs running
and waiting at once, every removal applied, duplicate writes).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from redis import Redis  # noqa: E402

from app import extensions, migrate, redis_conn  # noqa: E402
from app.connections import create as create_connection  # noqa: E402
from app.models import Connection, SyncRun  # noqa: E402
from app.webhooks import endpoints  # noqa: E402
from bench import http_storm  # noqa: E402
from sandbox.atlassian.site import Site  # noqa: E402
from sandbox.idps import okta  # noqa: E402
from sandbox.idps.directory import Directory  # noqa: E402
from sandbox.idps.hooks_okta import group_target, user_target  # noqa: E402
from tests.conftest import TEST_KEYS  # noqa: E402
from tests.engine.harness import stack  # noqa: E402
from tests.engine.test_worker_e2e import worker  # noqa: E402
from workers.queue import LOCK_KEY, WAITING_KEY, enqueue_sync  # noqa: E402
from workers.sync import linkstore  # noqa: E402

LENIENT = {"max_removal_percent": 100, "max_users_affected": 10**9}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wait_for(predicate, timeout: float, step: float = 0.01) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def runs(cid: int) -> list[SyncRun]:
    with extensions.db.session() as session:
        return list(session.query(SyncRun).filter_by(connection_id=cid).order_by(SyncRun.id))


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=0, help="default: users / 20")
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--storm", type=int, default=1000, help="0: no storm")
    parser.add_argument("--write-first-sync", action="store_true",
                        help="the site starts with accounts only, so the first sync writes every "
                             "group and membership (slow: 440 s at 10,000 users)")
    parser.add_argument("--link-in-first-sync", action="store_true",
                        help="the first sync looks every account up by e-mail (one site call "
                             "each: about 8 ms apiece here, 12 minutes at 100,000 users)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    groups = args.groups or max(2, args.users // 20)
    tmp = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    server = redis_conn.embedded(str(tmp / "redis"))
    config = {"DATABASE_URL": url, "REDIS_URL": redis_conn.url_of(server), "SECRET_KEYS": TEST_KEYS,
              "INSTANCE_PATH": str(tmp), "ALLOW_PRIVATE_URLS": True, "LOG_LEVEL": "WARNING",
              "LOG_FORMAT": "text"}
    setup: dict = {}
    with _phase(setup, "directory_seconds"):
        d = Directory.generate(args.users, groups, memberships=args.users * 2, seed=3,
                               nested_fraction=0.0)
    out: dict = {"users": args.users, "groups": groups,
                 "memberships": sum(len(t.member_ids) for t in d.teams.values()), "setup": setup}
    adopt = not args.write_first_sync
    with okta.serve(d, dpop=False) as idp, stack(config, tmp, validate=False) as env:
        env.redis_url = config["REDIS_URL"]
        redis = Redis.from_url(env.redis_url)
        with _phase(setup, "site_seed_seconds"):
            accounts = _accounts(env.cloud.site, d)
            setup["site"] = _seed_site(env.cloud.site, d, accounts, adopt)
        policy = {**LENIENT, "adopt_existing_groups": True} if adopt else LENIENT
        with extensions.db.session() as session:
            conn = create_connection(session, client_key=env.client_key, kind="okta", name="Okta",
                                     settings=idp.settings, mapping={"policy": policy},
                                     encrypt=extensions.secrets.encrypt)
            conn.schedule = None
            cid = conn.id
            endpoint = endpoints.ensure(session, session.get(Connection, cid), extensions.secrets.encrypt)
            hook_url = endpoints.url(env.app_url, endpoint)
            secret = extensions.secrets.decrypt(endpoint.secret_encrypted)
        if not args.link_in_first_sync:
            with _phase(setup, "links_seconds"):
                setup["links"] = _prelink(cid, d, accounts)
        out["first_sync"] = _first_sync(env, cid, idp, redis)
        with _phase(setup, "event_hook_seconds"):
            out["okta_verification"] = _register_hook(idp, hook_url, secret)
        proc = worker(env, "--worker-class", "rq.worker.SimpleWorker")  # a fresh one for events
        try:
            out.update(_latency(args, d, idp, env, cid))
            out["peak_worker_rss_mb"] = _peak_rss_mb(proc.pid)
            if args.storm:
                out.update(_storm(args, d, idp, env, cid, redis, hook_url, secret, config))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    server.shutdown()
    print(json.dumps(out, indent=2))


@contextmanager
def _phase(into: dict, key: str) -> Iterator[None]:
    """Record the seconds the block took under `key`."""
    started = time.monotonic()
    yield
    into[key] = round(time.monotonic() - started, 2)


def _accounts(site: Site, d: Directory) -> dict[str, str]:
    """An account on the site for every person (the IdP's users have their Atlassian accounts
    already, as in a company adopting the app): person id → accountId."""
    return {pid: site.add_user(p.email, p.display_name).account_id for pid, p in d.people.items()}


def _seed_site(site: Site, d: Directory, accounts: dict[str, str], adopt: bool) -> str:
    """With `adopt`, the IdP's groups with the same members on the site as well, so the first
    sync adopts them (reads) instead of writing each membership."""
    if not adopt:
        return "an account for every IdP user; no groups: the first sync creates and fills them"
    site.load({"groups": [{"name": t.name, "members": [accounts[m] for m in t.member_ids]}
                          for t in d.teams.values()]})
    return ("an account for every IdP user, and the IdP's groups with the same members: the "
            "first sync adopts the groups (policy adopt_existing_groups), so it reads instead "
            "of writing each membership")


def _prelink(cid: int, d: Directory, accounts: dict[str, str]) -> str:
    """The links a first sync's e-mail look-ups would make, stored with the product's own link
    store before it runs: the look-ups are one site call per account, the set-up's cost."""
    members = {m for t in d.teams.values() for m in t.member_ids}
    pairs = [(pid, accounts[pid]) for pid in d.people if pid in members]
    with extensions.db.session() as session:
        linkstore.save_many(session, cid, linkstore.USER, pairs)
    return (f"{len(pairs)} accounts (every synced user) linked to their IdP users before the "
            "first sync, as its look-ups by e-mail would link them (--link-in-first-sync "
            "makes the first sync look them up)")


def _first_sync(env, cid: int, idp, redis: Redis) -> dict:  # type: ignore[no-untyped-def]
    """The set-up's full run, enqueued as "Sync now" is and run by its own `rq worker`: what it
    did, how long it took and the worker's peak memory."""
    idp.requests = 0
    env.cloud.requests.clear()
    proc = worker(env, "--worker-class", "rq.worker.SimpleWorker")
    try:
        started = time.monotonic()
        enqueue_sync(redis, cid)
        assert wait_for(lambda: any(r.status != "running" for r in runs(cid)), 3600, step=0.5)
        seconds = round(time.monotonic() - started, 2)
        rss = _peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    run = runs(cid)[-1]
    assert run.status == "succeeded", (run.status, run.error)
    site = Counter(r.method for r in env.cloud.requests.all())
    counts = run.counts or {}
    run_seconds = round((run.finished_at - run.started_at).total_seconds(), 2)
    return {"seconds": seconds, "run_seconds": run_seconds,
            "idp_calls": idp.requests, "atlassian_calls": dict(site),
            "applied": counts.get("applied_by_kind") or counts.get("applied"),
            **{k: counts.get(k) for k in ("groups_adopted", "managed_memberships")},
            "peak_worker_rss_mb": rss,
            "note": "enqueued and run by a fresh rq worker: seconds from the enqueue (with the "
                    "worker's start) to the run's end; run_seconds: the run's own"}


def _register_hook(idp, hook_url: str, secret: str) -> str | None:  # type: ignore[no-untyped-def]
    """Okta's event hook for membership changes, registered and verified by Okta's handshake."""
    api = {"Authorization": f"SSWS {okta.API_TOKEN}"}
    hook = requests.post(f"{idp.url}/api/v1/eventHooks", headers=api, timeout=10, json={
        "name": "usersync", "events": {"type": "EVENT_TYPE", "items": [
            "group.user_membership.remove", "group.user_membership.add"]},
        "channel": {"type": "HTTP", "version": "1.0.0", "config": {"uri": hook_url, "headers": [],
                    "authScheme": {"type": "HEADER", "key": "Authorization", "value": secret}}}}).json()
    verify = requests.post(f"{idp.url}/api/v1/eventHooks/{hook['id']}/lifecycle/verify",
                           headers=api, timeout=10)
    return verify.json().get("verificationStatus")


def _peak_rss_mb(pid: int) -> float | None:
    """The worker's peak resident memory (VmHWM), read from /proc while it still runs."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return round(kb / 1024, 1) if kb else None


def _removals(d: Directory, count: int) -> list[tuple[str, str]]:
    """`count` distinct (group id, person id) memberships, spread over the groups."""
    pairs = []
    teams = [t for t in d.teams.values() if t.member_ids]
    depth = 0
    while len(pairs) < count and teams:
        for team in teams:
            if depth < len(team.member_ids):
                pairs.append((team.id, team.member_ids[depth]))
                if len(pairs) == count:
                    break
        depth += 1
    return pairs


def _latency(args, d, idp, env, cid) -> dict:  # type: ignore[no-untyped-def]
    hooks = idp.extra["hooks"]
    pairs = _removals(d, args.events + 1)
    seconds, idp_calls, site_calls, answered = [], [], [], []
    for n, (team_id, person_id) in enumerate(pairs):
        team, person = d.teams[team_id], d.people[person_id]
        team.member_ids = [m for m in team.member_ids if m != person_id]
        team.updated = time.time()  # Okta's lastMembershipUpdated moves
        idp.requests = 0
        env.cloud.requests.clear()
        before = len(runs(cid))
        started = time.monotonic()
        assert hooks.emit("group.user_membership.remove", [user_target(person), group_target(team)]) == [200]
        answered.append(time.monotonic() - started)
        assert wait_for(lambda p=person, t=team: p.email not in env.members(t.name), 120)
        elapsed = time.monotonic() - started
        wait_for(lambda b=before: len(runs(cid)) > b and runs(cid)[-1].status != "running", 120)
        if n == 0:
            continue  # the first run warms the worker (imports, connections)
        seconds.append(elapsed)
        idp_calls.append(idp.requests)
        site_calls.append(len(env.cloud.requests.all()))
    return {"latency_seconds": {"events": len(seconds), "p50": round(percentile(seconds, 50), 3),
                                "p95": round(percentile(seconds, 95), 3),
                                "max": round(max(seconds), 3)},
            "handler_seconds_one_at_a_time": {"p50": round(percentile(answered, 50), 4),
                                              "p99": round(percentile(answered, 99), 4)},
            "calls_per_event": {"idp": statistics.median(idp_calls),
                                "atlassian": statistics.median(site_calls),
                                "note": "median over the events; the run is scoped to the "
                                        "users and groups the event named"}}


def _storm(args, d, idp, env, cid, redis, hook_url, secret, config) -> dict:  # type: ignore[no-untyped-def]
    """`--storm` Okta deliveries for one connection, sent as fast as light keep-alive senders
    allow to the app served as in production (the Procfile's `web` gunicorn)."""
    pairs = _removals(d, args.storm)
    headers = {"Authorization": secret, "Content-Type": "application/json"}
    bodies = []
    for team_id, person_id in pairs:
        team, person = d.teams[team_id], d.people[person_id]
        team.member_ids = [m for m in team.member_ids if m != person_id]
        team.updated = time.time()
        bodies.append(json.dumps({"eventType": "com.okta.event_hook", "data": {"events": [{
            "eventType": "group.user_membership.remove",
            "target": [user_target(person), group_target(team)]}]}}))
    env.cloud.requests.clear()
    first_run = len(runs(cid))
    most = {"running": 0, "waiting": 0, "queued": 0}
    watching = threading.Event()

    def watch() -> None:
        from workers.queue import queued

        while not watching.is_set():
            running = int(bool(redis.exists(LOCK_KEY.format(cid=cid))))
            waiting = int(bool(redis.exists(WAITING_KEY.format(cid=cid))))
            most["running"] = max(most["running"], running)
            most["waiting"] = max(most["waiting"], waiting)
            most["queued"] = max(most["queued"], queued(redis))
            time.sleep(0.005)

    with http_storm.production_web(config) as web:
        url = web.base + urlsplit(hook_url).path
        requests_ = [http_storm.request_bytes(url, body, headers) for body in bodies]
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        web_cpu, own_cpu = web.cpu_seconds(), time.process_time()
        sent = http_storm.storm(url, requests_, processes=SENDER_PROCESSES,
                                threads=SENDER_CONNECTIONS // SENDER_PROCESSES)
        web_cpu, own_cpu = web.cpu_seconds() - web_cpu, time.process_time() - own_cpu
        missing = lambda: [(t, p) for t, p in pairs  # noqa: E731
                           if d.people[p].email in env.members(d.teams[t].name)]
        applied = wait_for(lambda: not missing() and not redis.exists(WAITING_KEY.format(cid=cid))
                           and not redis.exists(LOCK_KEY.format(cid=cid)), 600, step=0.2)
        watching.set()
        watcher.join()
    handler = sent["seconds"]
    deletes = Counter((r.path, r.query) for r in env.cloud.requests.all()
                      if r.method == "DELETE" and 200 <= r.status < 300)
    return {"handler_seconds_in_storm": {
                "p50": round(percentile(handler, 50), 4), "p99": round(percentile(handler, 99), 4),
                "note": f"{SENDER_CONNECTIONS} keep-alive connections from {SENDER_PROCESSES} "
                        "sender processes, as fast as answered; on the machine the worker and "
                        "both sandboxes share"},
            "storm": {"events": len(bodies), "sent_in_seconds": round(sent["elapsed"], 2),
                      "server": http_storm.command_line(None),
                      "cpu_seconds_while_sending": {
                          "web": round(web_cpu, 2), "senders": round(sent["sender_cpu_seconds"], 2),
                          "bench_process": round(own_cpu, 2),
                          "note": "bench_process: both sandboxes answering the worker's runs, "
                                  "and the watcher; the rq worker and other work not counted"},
                      "answers": dict(Counter(sent["statuses"])), "runs": len(runs(cid)) - first_run,
                      "most_running": most["running"], "most_waiting": most["waiting"],
                      "most_queued_jobs": most["queued"], "all_applied": applied and not missing(),
                      "removal_writes": sum(deletes.values()),
                      "duplicate_writes": sum(n - 1 for n in deletes.values() if n > 1)}}


SENDER_PROCESSES, SENDER_CONNECTIONS = 2, 16
"""The storm's senders: light enough (raw keep-alive sockets) not to be what limits it."""


if __name__ == "__main__":
    main()
