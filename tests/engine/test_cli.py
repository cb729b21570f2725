"""The operator commands against the real stack: add, list, sync --dry-run --wait, sync --wait,
approve a held plan; and the rq cron configuration the clock process loads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from redis import Redis

from tests.engine.harness import directory, shared_redis_stack
from tests.engine.test_worker_e2e import worker


@pytest.fixture()
def env(test_config, tmp_path):
    with shared_redis_stack(test_config, tmp_path) as s:
        s.runner = s.app.test_cli_runner()  # the commands on the app's settings: no environment
        yield s


def invoke(env, *args: str):  # type: ignore[no-untyped-def]
    return env.runner.invoke(args=list(args))


def cli(env, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = env.runner.invoke(args=list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


_current = None


def test_operator_flow(env, tmp_path):
    users = [(f"u{i}", f"user{i}@example.com", True) for i in range(12)]
    for _, email, _ in users:
        env.cloud.site.add_user(email)
    path = env.write_directory(directory(users, {"crew": [u[0] for u in users]}))
    cid = cli(env, "connections", "add", "--client-key", env.client_key, "--kind", "directory_file",
              "--name", "HR", "--settings", json.dumps({"path": str(path)}),
              "--mapping", '{"mode": "on_the_fly", "schedule": "day"}').strip()
    listed = [json.loads(line) for line in cli(env, "connections", "list").splitlines()]
    assert listed[0]["id"] == int(cid) and listed[0]["schedule"] == "day"
    assert "path" in listed[0]["settings"]

    proc = worker(env)
    try:
        preview = json.loads(cli(env, "sync", cid, "--dry-run", "--wait"))
        assert preview["status"] == "preview" and preview["summary"]["add_member"] == 12
        assert preview["invite_domains"] == ["example.com"]  # filled from the IdP, shown
        assert preview["groups_adopted"] == [] and preview["groups_skipped"] == []
        assert env.cloud.requests.writes() == []
        applied = json.loads(cli(env, "sync", cid, "--wait"))
        assert applied["status"] == "succeeded" and len(env.members("crew")) == 12

        env.write_directory(directory(users[:3], {"crew": ["u0", "u1", "u2"]}))
        held = json.loads(cli(env, "sync", cid, "--wait"))
        assert held["status"] == "held"
        cli(env, "runs", "approve", str(held["run_id"]), "--by", "it-admin")
        from tests.engine.test_worker_e2e import wait_for

        wait_for(lambda: env.run(held["run_id"]).status == "succeeded", 60)
        assert len(env.members("crew")) == 3
    finally:
        proc.kill()
        proc.wait()


def test_bad_input_is_a_clear_error(env):
    result = invoke(env, "connections", "add", "--client-key", env.client_key,
                    "--kind", "nonsense", "--name", "x", "--settings", "{}")
    assert result.exit_code != 0 and "unknown source kind" in result.output
    result = invoke(env, "connections", "add", "--client-key", "nope",
                    "--kind", "directory_file", "--name", "x", "--settings", '{"path": "/x"}')
    assert result.exit_code != 0 and "no installed site" in result.output
    result = invoke(env, "connections", "add", "--client-key", env.client_key,
                    "--kind", "directory_file", "--name", "x",
                    "--settings", '{"path": "/x"}', "--mapping", '{"schedule": "sometimes"}')
    assert result.exit_code != 0 and "cron" in result.output
    result = invoke(env, "sync", "999999")
    assert result.exit_code != 0 and "does not exist" in result.output


def test_clock_configuration_registers_the_schedule_tick():
    from rq.cron import CronScheduler

    from workers.queue import BULK, INTERACTIVE

    scheduler = CronScheduler(connection=Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:9")))
    scheduler.load_config_from_file(str(Path(__file__).resolve().parents[2] / "workers" / "cron.py"))
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    # a due schedule is enqueued within 20 s, on the queue every worker takes from first
    assert jobs["workers.jobs.schedule_tick"].interval == 20
    assert jobs["workers.jobs.schedule_tick"].queue_name == INTERACTIVE
    assert jobs["workers.jobs.purge_job"].queue_name == BULK
    # and once a day, the data of sites uninstalled past the retention period goes
    assert jobs["workers.jobs.purge_job"].interval == 86400
    assert len(jobs) == 2


def test_connection_test_says_what_is_wrong(env, tmp_path):
    path = env.write_directory(directory([("u1", "a@example.com", True)], {"g": ["u1"]}))
    cid = cli(env, "connections", "add", "--client-key", env.client_key, "--kind", "directory_file",
              "--name", "HR", "--settings", json.dumps({"path": str(path)})).strip()
    assert cli(env, "connections", "test", cid).startswith("ok: Read 1 users and 1 groups")
    path.unlink()
    result = invoke(env, "connections", "test", cid)
    assert result.exit_code == 1 and "does not exist" in result.output
    kc = cli(env, "connections", "add", "--client-key", env.client_key, "--kind", "keycloak", "--name", "KC",
             "--settings", json.dumps({"base_url": "http://127.0.0.1:9", "realm": "corp",
                                       "client_id": "c", "client_secret": "s"})).strip()
    env.app.config["ALLOW_PRIVATE_URLS"] = False  # as a production set-up has it
    result = invoke(env, "connections", "test", kc)
    assert result.exit_code == 1 and "failed (config)" in result.output and "https" in result.output
    env.app.config["ALLOW_PRIVATE_URLS"] = True  # as the sandbox set-up does
    result = invoke(env, "connections", "test", kc)
    assert result.exit_code == 1 and "failed (unreachable)" in result.output


def test_manual_schedule_is_stored_and_never_ticked(env):
    from datetime import UTC, datetime

    from app import extensions
    from workers import schedule
    from workers.queue import queued_jobs

    path = env.write_directory(directory([("u1", "a@example.com", True)], {"g": ["u1"]}))
    add = ["connections", "add", "--client-key", env.client_key, "--kind", "directory_file",
           "--settings", json.dumps({"path": str(path)})]
    manual = cli(env, *add, "--name", "On demand", "--mapping", '{"schedule": "manual"}').strip()
    hourly = cli(env, *add, "--name", "Default").strip()
    listed = {c["id"]: c for c in map(json.loads, cli(env, "connections", "list").splitlines())}
    assert listed[int(manual)]["schedule"] is None, "null: manual, on demand only"
    assert listed[int(hourly)]["schedule"] == "hour"
    assert schedule.tick(extensions.db, env.redis, datetime.now(UTC)) == 1
    [job] = queued_jobs(env.redis)
    assert job.args[0] == int(hourly), "only the scheduled connection is enqueued"


def test_a_mapping_change_keeps_a_manual_schedule(env):
    from app import extensions
    from app.connections import apply_mapping
    from app.models import Connection

    cid = env.connection(directory([], {}), {"schedule": "manual"})
    with extensions.db.session() as session:
        conn = session.get(Connection, cid)
        apply_mapping(conn, {"mode": "on_the_fly", "prefix": "idp-"})
    with extensions.db.session() as session:
        assert session.get(Connection, cid).schedule is None


def test_add_help_and_readme_name_every_source_kind(runner):
    from workers.sources import registry

    help_text = " ".join(runner.invoke(args=["connections", "add", "--help"]).output.split())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    kinds = registry.kinds()
    assert "scim_pull" in kinds
    for kind in kinds:
        assert f"{kind} (" in help_text, f"--help does not list {kind}"
        assert f"`{kind}`" in readme, f"the README does not document the {kind} kind"


def test_installations_list_shows_the_client_key_connections_add_needs(env):
    table = cli(env, "installations", "list").splitlines()
    assert table[0].split() == ["CLIENT_KEY", "PRODUCT", "SITE_URL", "STATE", "KIND"]
    assert table[1].split() == [env.client_key, "jira", env.cloud.base_url, "enabled", "connect"]
    [row] = [json.loads(line) for line in cli(env, "installations", "list", "--json").splitlines()]
    assert row == {"client_key": env.client_key, "product": "jira",
                   "site_url": env.cloud.base_url, "state": "enabled", "kind": "connect"}
    assert "secret" not in cli(env, "installations", "list", "--json").lower()
    group_help = cli(env, "installations", "--help")
    assert all(c in group_help for c in ("list", "confirm-url", "purge-uninstalled"))
