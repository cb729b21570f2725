"""A disabled connection, or a site where the app is not enabled, runs nothing from any trigger."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from redis import Redis
from sqlalchemy import func, select

from app import extensions, triggers
from app.cli import main
from app.models import Connection, Installation, InstallationState, SyncRun
from tests.conftest import TEST_KEYS
from tests.engine.harness import directory, stack
from workers import context, jobs, schedule
from workers.queue import WAITING_KEY, enqueue_sync, queued

ALICE = ("u-alice", "alice@example.com", True)


@pytest.fixture()
def env(test_config, tmp_path, monkeypatch):
    with stack(test_config, tmp_path) as s:
        s.cloud.site.add_user(ALICE[1])
        s.redis = Redis.from_url(test_config["REDIS_URL"])
        s.redis.flushdb()
        for key, value in {"DATABASE_URL": test_config["DATABASE_URL"],
                           "REDIS_URL": test_config["REDIS_URL"],
                           "USERSYNC_SECRET_KEYS": ",".join(TEST_KEYS),
                           "USERSYNC_INSTANCE_PATH": str(tmp_path / "cli")}.items():
            monkeypatch.setenv(key, value)
        s.cid = s.connection(directory([ALICE], {"eng": ["u-alice"]}))
        yield s
    context.settings.cache_clear()


def set_enabled(cid: int, enabled: bool) -> None:
    with extensions.db.session() as session:
        session.get(Connection, cid).enabled = enabled


def set_site_state(env, state: InstallationState) -> None:
    with extensions.db.session() as session:
        session.get(Installation, env.installation_id).state = state


def run_count(cid: int) -> int:
    with extensions.db.session() as session:
        return session.scalar(select(func.count()).select_from(SyncRun)
                              .where(SyncRun.connection_id == cid))


def cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_engine_runs_nothing_for_a_disabled_connection(env):
    set_enabled(env.cid, False)
    run = env.sync(env.cid)
    assert run.status == "failed" and "disabled" in run.error
    assert run.plan is None and "eng" not in env.group_names()
    assert env.cloud.requests.writes() == []


def test_job_rechecks_at_start_and_records_no_run(env):
    job_id = enqueue_sync(env.redis, env.cid, "schedule")
    set_enabled(env.cid, False)  # disabled between enqueue and run
    context.settings.cache_clear()
    result = jobs.sync_connection(env.cid, "schedule")
    assert result["status"] == "skipped" and "disabled" in result["reason"]
    assert run_count(env.cid) == 0 and env.cloud.requests.writes() == []
    assert job_id  # the waiting job is the one that found the connection disabled


def test_job_for_a_site_that_is_no_longer_enabled_records_no_run(env):
    set_site_state(env, InstallationState.DISABLED)
    context.settings.cache_clear()
    result = jobs.sync_connection(env.cid, "push")
    assert result["status"] == "skipped" and "not enabled" in result["reason"]
    assert run_count(env.cid) == 0


def test_cli_disable_stops_sync_and_enable_restores_it(env):
    result = cli("connections", "disable", str(env.cid))
    assert result.exit_code == 0 and "disabled" in result.output
    refused = cli("sync", str(env.cid), "--dry-run")
    assert refused.exit_code == 1
    assert f"connection {env.cid} is disabled" in refused.output
    assert f"usersync connections enable {env.cid}" in refused.output
    assert queued(env.redis) == 0 and env.redis.get(WAITING_KEY.format(cid=env.cid)) is None
    assert cli("connections", "enable", str(env.cid)).exit_code == 0
    accepted = cli("sync", str(env.cid), "--dry-run")
    assert accepted.exit_code == 0 and queued(env.redis) == 1


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_enable_and_disable_of_a_missing_connection_is_one_clear_line(env, command):
    result = cli("connections", command, "9999")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: connection 9999 does not exist"


def test_cli_sync_refuses_a_connection_of_a_site_not_enabled(env):
    set_site_state(env, InstallationState.UNINSTALLED)
    result = cli("sync", str(env.cid))
    assert result.exit_code == 1 and "not enabled" in result.output
    assert queued(env.redis) == 0


def test_a_pushed_change_for_a_disabled_connection_is_not_flagged_nor_enqueued(env):
    set_enabled(env.cid, False)
    with extensions.db.session() as session:
        triggers.notify_change(session, env.cid, lambda: env.redis, "webhook")
    with extensions.db.session() as session:
        assert session.get(Connection, env.cid).pending_changes is False
    assert queued(env.redis) == 0


def test_schedule_tick_skips_disabled_connections_and_sites(env):
    other = env.connection(directory([ALICE], {"ops": ["u-alice"]}), name="other.json")
    set_enabled(env.cid, False)
    assert schedule.tick(extensions.db, env.redis) == 1  # only `other` is due
    set_site_state(env, InstallationState.DISABLED)
    with extensions.db.session() as session:
        session.get(Connection, other).next_run_at = None
    assert schedule.tick(extensions.db, env.redis) == 0


def test_a_held_plan_of_a_disabled_connection_is_not_applied(env):
    env.cloud.site.add_user("bob@example.com")
    with extensions.db.session() as session:
        session.get(Connection, env.cid).policy = {"max_users_affected": 0,
                                                   "max_removal_percent": 0}
    assert env.sync(env.cid).status == "succeeded"
    env.write_directory(directory([ALICE], {"eng": []}))
    held = env.sync(env.cid)
    assert held.status == "held"
    set_enabled(env.cid, False)
    refused = cli("runs", "approve", str(held.id))
    assert refused.exit_code == 1 and "stays held" in refused.output
    context.settings.cache_clear()
    result = jobs.apply_approved(held.id, env.cid, "admin@example.com")
    assert result["status"] == "held" and env.run(held.id).status == "held"
    assert env.members("eng") == {"alice@example.com"}
