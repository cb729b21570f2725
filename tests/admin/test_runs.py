"""Preview, sync now, held plans, history, changes and their export, through the admin API and
a real `rq worker` working the queue the API filled."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis

from app import extensions
from tests.conftest import TEST_KEYS
from workers.queue import QUEUES

RQ = Path(sys.executable).parent / "rq"
ROOT = Path(__file__).resolve().parents[2]


def directory(users: list[str], groups: dict[str, list[str]]) -> str:
    return json.dumps({
        "users": [{"id": u, "email": f"{u}@example.com", "display_name": u, "active": True}
                  for u in users],
        "groups": [{"id": f"g-{n}", "name": n, "members": m, "parents": []}
                   for n, m in groups.items()]})


@pytest.fixture()
def runs_env(admin_env, test_config):
    Redis.from_url(test_config["REDIS_URL"]).flushdb()
    admin_env.redis_url = test_config["REDIS_URL"]
    cloud = admin_env.cloud
    for name in ("ann", "bob", "cat"):
        cloud.site.add_user(f"{name}@example.com", name)
    r = admin_env.put("/api/admin/credential/api-token",
                      json={"email": cloud.admin_email, "api_token": cloud.admin_api_token})
    assert r.status_code == 200 and r.get_json()["active"] == "api_token"
    return admin_env


def work(env) -> None:  # type: ignore[no-untyped-def]
    """Run a real worker until the queue is empty."""
    base = env.cloud.base_url
    proc_env = dict(os.environ, DATABASE_URL=extensions.db.url, USERSYNC_SECRET_KEYS=",".join(TEST_KEYS),
                    REDIS_URL=env.redis_url, USERSYNC_ALLOW_PRIVATE_URLS="true",
                    USERSYNC_ATLASSIAN_API_URL=base, USERSYNC_ATLASSIAN_AUTH_URL=base,
                    USERSYNC_LOG_FORMAT="text")
    done = subprocess.run([str(RQ), "worker", "--burst", "--url", env.redis_url, *QUEUES],
                          env=proc_env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def connection(env, content: str) -> int:  # type: ignore[no-untyped-def]
    r = env.post("/api/admin/connections", json={
        "kind": "directory_file", "name": "HR file", "enabled": True,
        "settings": {"content": content, "format": "json"}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def run_of(env, job_id: str) -> dict:  # type: ignore[no-untyped-def]
    job = env.get(f"/api/admin/jobs/{job_id}").get_json()
    assert job["run_id"], job
    return env.get(f"/api/admin/runs/{job['run_id']}").get_json()


def test_preview_then_sync_then_history_changes_and_export(runs_env):
    env = runs_env
    cid = connection(env, directory(["ann", "bob"], {"eng": ["ann", "bob"], "ops": ["bob"]}))
    r = env.post(f"/api/admin/connections/{cid}/preview")
    assert r.status_code == 202 and r.get_json()["run_id"] is None
    job_id = r.get_json()["job_id"]
    assert env.get(f"/api/admin/jobs/{job_id}").get_json()["state"] == "queued"
    work(env)
    assert env.get(f"/api/admin/jobs/{job_id}").get_json()["state"] == "finished"
    preview = run_of(env, job_id)
    assert preview["status"] == "preview" and preview["dry_run"] is True
    assert preview["summary"]["create_group"] == 2 and preview["summary"]["add_member"] == 3
    plan = env.get(f"/api/admin/runs/{preview['id']}/plan").get_json()
    assert plan["summary"] == preview["summary"] and len(plan["items"]) == plan["summary"]["create_group"] \
        + plan["summary"]["link_group"] + plan["summary"]["link_user"] + plan["summary"]["add_member"]
    adds = env.get(f"/api/admin/runs/{preview['id']}/plan?kind=add_member&limit=2").get_json()
    assert [i["kind"] for i in adds["items"]] == ["add_member", "add_member"] and adds["next_cursor"]
    rest = env.get(f"/api/admin/runs/{preview['id']}/plan?kind=add_member&cursor={adds['next_cursor']}").get_json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    # a preview writes nothing (the admin check is a POST that reads)
    assert [w for w in env.cloud.requests.writes() if "permissions/check" not in w.path] == []

    job_id = env.post(f"/api/admin/connections/{cid}/sync").get_json()["job_id"]
    work(env)
    run = run_of(env, job_id)
    assert run["status"] == "succeeded" and run["ops_done"] == run["ops_total"] > 0
    assert run["progress"] is None
    assert env.cloud.site.group_by_name("eng")

    history = env.get(f"/api/admin/connections/{cid}/runs?limit=1").get_json()
    assert [h["id"] for h in history["items"]] == [run["id"]] and history["next_cursor"]
    older = env.get(f"/api/admin/connections/{cid}/runs?cursor={history['next_cursor']}").get_json()
    assert [h["id"] for h in older["items"]] == [preview["id"]] and older["next_cursor"] is None

    changes = env.get(f"/api/admin/runs/{run['id']}/changes?limit=2").get_json()
    assert len(changes["items"]) == 2 and changes["next_cursor"]
    seen = [c["id"] for c in changes["items"]]
    cursor = changes["next_cursor"]
    while cursor:
        page = env.get(f"/api/admin/runs/{run['id']}/changes?limit=2&cursor={cursor}").get_json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == run["ops_total"]
    members = env.get(f"/api/admin/runs/{run['id']}/changes?kind=add_member&outcome=applied").get_json()
    assert len(members["items"]) == 3 and {c["kind"] for c in members["items"]} == {"add_member"}
    assert env.get(f"/api/admin/runs/{run['id']}/changes?outcome=failed").get_json()["items"] == []
    bad = env.get(f"/api/admin/runs/{run['id']}/changes?kind=explode&limit=0&cursor=zz")
    assert bad.status_code == 400 and {"query.kind", "query.limit"} <= set(bad.get_json()["error"]["fields"])

    exported = env.get(f"/api/admin/runs/{run['id']}/changes.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == seen
    as_json = env.get(f"/api/admin/runs/{run['id']}/changes.json?kind=add_member").get_json()
    assert [c["kind"] for c in as_json] == ["add_member"] * 3

    overview = env.get("/api/admin/overview").get_json()
    (item,) = overview["connections"]
    assert item["health"] == "ok" and item["last_run"]["id"] == run["id"]
    assert [h["run_id"] for h in item["history"]] == [preview["id"], run["id"]]
    assert item["counts"]["applied"] == run["ops_total"]


def test_a_held_plan_is_approved_or_discarded(runs_env):
    env = runs_env
    cid = connection(env, directory(["ann", "bob", "cat"], {"eng": ["ann", "bob", "cat"]}))
    env.post(f"/api/admin/connections/{cid}/sync")
    work(env)
    r = env.put(f"/api/admin/connections/{cid}/policy",
                json={"guard": {"max_removal_percent": 0, "max_users_affected": 0}})
    assert r.status_code == 200, r.get_json()
    env.patch(f"/api/admin/connections/{cid}",
              json={"settings": {"content": directory(["ann"], {"eng": ["ann"]})}})
    job_id = env.post(f"/api/admin/connections/{cid}/sync").get_json()["job_id"]
    work(env)
    held = run_of(env, job_id)
    assert held["status"] == "held" and held["held"] is True and held["reason"]
    plan = env.get(f"/api/admin/runs/{held['id']}/plan?kind=remove_member").get_json()
    assert plan["held"] is True and len(plan["items"]) == 2
    assert env.post(f"/api/admin/runs/{held['id']}/discard").get_json()["status"] == "discarded"
    assert env.post(f"/api/admin/runs/{held['id']}/approve").status_code == 409

    job_id = env.post(f"/api/admin/connections/{cid}/sync").get_json()["job_id"]
    work(env)
    held = run_of(env, job_id)
    assert held["status"] == "held"
    assert env.get("/api/admin/overview").get_json()["connections"][0]["health"] == "held"
    r = env.post(f"/api/admin/runs/{held['id']}/approve")
    assert r.status_code == 202 and r.get_json()["run_id"] == held["id"]
    work(env)
    approved = env.get(f"/api/admin/runs/{held['id']}").get_json()
    assert approved["status"] == "succeeded" and approved["approved_by"] == env.admin_id
    eng = env.cloud.site.group_by_name("eng")
    assert {u.email for u in env.cloud.site.members(eng.group_id)} == {"ann@example.com"}


def test_a_held_plan_stored_compressed_reads_and_applies_the_same(runs_env):
    """Large plans are stored compressed (workers.sync.plan_store); the page and the
    approval read them as any other."""
    from app.models import SyncRun
    from workers.sync import plan_store

    env = runs_env
    cid = connection(env, directory(["ann", "bob", "cat"], {"eng": ["ann", "bob", "cat"]}))
    env.post(f"/api/admin/connections/{cid}/sync")
    work(env)
    env.put(f"/api/admin/connections/{cid}/policy",
            json={"guard": {"max_removal_percent": 0, "max_users_affected": 0}})
    env.patch(f"/api/admin/connections/{cid}",
              json={"settings": {"content": directory(["ann"], {"eng": ["ann"]})}})
    job_id = env.post(f"/api/admin/connections/{cid}/sync").get_json()["job_id"]
    work(env)
    held = run_of(env, job_id)
    assert held["status"] == "held"
    page = env.get(f"/api/admin/runs/{held['id']}/plan").get_json()
    with extensions.db.session() as session:
        run = session.get(SyncRun, held["id"])
        run.plan = plan_store.dump(plan_store.load(run.plan), compress_over=0)
        run.counts = {k: v for k, v in run.counts.items() if k != "planned"}
        stored = run.plan
    assert env.get(f"/api/admin/runs/{held['id']}/plan").get_json() == page
    assert run_of(env, job_id)["summary"] == held["summary"]
    assert env.post(f"/api/admin/runs/{held['id']}/approve").status_code == 202
    work(env)
    assert env.get(f"/api/admin/runs/{held['id']}").get_json()["status"] == "succeeded"
    eng = env.cloud.site.group_by_name("eng")
    assert {u.email for u in env.cloud.site.members(eng.group_id)} == {"ann@example.com"}
    with extensions.db.session() as session:
        # applied as read from the stored text, which stays the one the admin previewed
        assert session.get(SyncRun, held["id"]).plan == stored


def test_a_disabled_connection_neither_previews_nor_syncs(admin_env, test_config):
    """As the worker runs nothing for it, the API refuses at once and says why."""
    Redis.from_url(test_config["REDIS_URL"]).flushdb()
    cid = connection(admin_env, directory(["ann"], {"eng": ["ann"]}))
    admin_env.post(f"/api/admin/connections/{cid}/disable")
    for action in ("sync", "preview"):
        r = admin_env.post(f"/api/admin/connections/{cid}/{action}")
        assert r.status_code == 409 and "disabled" in r.get_json()["error"]["message"]
    admin_env.post(f"/api/admin/connections/{cid}/enable")
    assert admin_env.post(f"/api/admin/connections/{cid}/preview").status_code == 202


def test_queue_down_is_a_clear_503(admin_env):
    cid = connection(admin_env, directory(["ann"], {"eng": ["ann"]}))
    admin_env.app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    r = admin_env.post(f"/api/admin/connections/{cid}/sync")
    assert r.status_code == 503 and "queue" in r.get_json()["error"]["message"]


def test_a_running_sync_shows_live_progress_from_the_worker(admin_env, test_config):
    """The worker publishes {run_id, done, total} in Redis while it applies; the run answers it."""
    from workers.queue import PROGRESS_KEY
    from workers.sync import engine

    redis = Redis.from_url(test_config["REDIS_URL"])
    cid = connection(admin_env, directory(["ann"], {"eng": ["ann"]}))
    run_id = engine.start_run(extensions.db, cid, "manual", False)
    body = admin_env.get(f"/api/admin/runs/{run_id}").get_json()
    assert body["status"] == "running" and body["progress"] == {"done": 0, "total": 0}
    redis.hset(PROGRESS_KEY.format(cid=cid), mapping={"run_id": run_id, "done": 40, "total": 120})
    body = admin_env.get(f"/api/admin/runs/{run_id}").get_json()
    assert body["progress"] == {"done": 40, "total": 120}
    assert body["ops_done"] == 40 and body["ops_total"] == 120
    assert admin_env.get("/api/admin/overview").get_json()["connections"][0]["health"] == "running"


def test_a_run_stopped_by_the_quota_shows_as_deferred(admin_env):
    from workers.sync import engine

    cid = connection(admin_env, directory(["ann"], {"eng": ["ann"]}))
    run_id = engine.start_run(extensions.db, cid, "schedule", False)
    engine.defer(extensions.db, run_id, 600, "hourly points quota used up")
    (item,) = admin_env.get("/api/admin/overview").get_json()["connections"]
    assert item["health"] == "deferred" and item["deferred_until"]
    assert item["last_run"]["status"] == "deferred" and "quota" in item["last_run"]["reason"]


def test_sync_now_can_ask_for_a_reconcile(runs_env):
    """{"reconcile": true} makes the run read the managed groups from the site: a member
    removed by hand is found as drift and put back."""
    env = runs_env
    cid = connection(env, directory(["ann", "bob"], {"eng": ["ann", "bob"]}))
    env.post(f"/api/admin/connections/{cid}/sync")
    work(env)
    site = env.cloud.site
    eng = site.group_by_name("eng")
    site.remove_member(eng.group_id, site.user_by_email("bob@example.com").account_id)
    ordinary = env.post(f"/api/admin/connections/{cid}/sync").get_json()["job_id"]
    work(env)
    assert run_of(env, ordinary)["summary"]["add_member"] == 0  # the mirror is trusted
    r = env.post(f"/api/admin/connections/{cid}/sync", json={"reconcile": True})
    assert r.status_code == 202, r.get_json()
    work(env)
    run = env.get(f"/api/admin/runs/{run_of(env, r.get_json()['job_id'])['id']}").get_json()
    assert run["trigger"] == "reconcile" and run["counts"]["drift"]["removed"] == 1
    assert {u.email for u in site.members(eng.group_id)} == {"ann@example.com", "bob@example.com"}
    bad = env.post(f"/api/admin/connections/{cid}/sync", json={"reconcile": "soon"})
    assert bad.status_code == 400


def answer_from_loaded_plan(plan, run: dict, after: int | None, kind: str | None,  # type: ignore[no-untyped-def]
                            limit: int) -> dict:
    """The plan page as the view made it by loading the whole plan and walking its ops."""
    from app.admin import paging

    items, next_cursor = [], None
    for index in range((-1 if after is None else after) + 1, len(plan.ops)):
        op = plan.ops[index]
        if kind and op.kind != kind:
            continue
        if len(items) == limit:
            next_cursor = paging.encode(items[-1]["index"])
            break
        items.append({"index": index, "kind": op.kind, "group_id": op.group_id,
                      "group_name": op.group_name, "account_id": op.account_id,
                      "idp_user_id": op.idp_user_id, "email": op.email,
                      "display_name": op.display_name, "products": list(op.products),
                      "reason": op.reason})
    return {"run_id": run["id"], "status": run["status"], "held": run["held"],
            "reason": run["reason"], "summary": plan.summary(),
            "notices": [n._asdict() for n in plan.notices], "items": items,
            "next_cursor": next_cursor}


@pytest.mark.parametrize("compress_over", [None, 0])
def test_every_page_of_a_stored_plan_answers_as_the_loaded_plan_does(runs_env, compress_over):
    """The page is read from the stored text, plain or compressed, without loading the plan:
    each page, cursor and filter answers what walking the loaded plan answered."""
    from app.admin import paging
    from app.models import SyncRun
    from workers.sync import plan_store
    from workers.sync.plan import APPLY_ORDER

    env = runs_env
    users = ["ann", "bob", "cat", "dan", "eve"]
    cid = connection(env, directory(users, {"eng": users, "ops": ["bob", "eve"],
                                            "qa": ["dan"]}))
    job_id = env.post(f"/api/admin/connections/{cid}/preview").get_json()["job_id"]
    work(env)
    preview = run_of(env, job_id)
    with extensions.db.session() as session:
        run = session.get(SyncRun, preview["id"])
        plan = plan_store.load(run.plan)
        run.plan = plan_store.dump(plan, compress_over=compress_over)
        assert plan_store.is_compressed(run.plan) is (compress_over == 0)
    assert plan.summary()["add_member"] == 8
    pages = 0
    for kind in (None, *APPLY_ORDER):
        for limit in (1, 3, 50):
            after = None
            while True:
                query = f"limit={limit}" + (f"&kind={kind}" if kind else "") + (
                    f"&cursor={paging.encode(after)}" if after is not None else "")
                got = env.get(f"/api/admin/runs/{preview['id']}/plan?{query}").get_json()
                assert got == answer_from_loaded_plan(plan, preview, after, kind, limit), query
                pages += 1
                if not got["next_cursor"]:
                    break
                after = paging.decode(got["next_cursor"])
    assert pages > 40
