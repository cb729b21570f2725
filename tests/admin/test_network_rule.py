"""One private-URL rule for the web app, the worker and the CLI: the operator's setting, else
what `usersync run` recorded for the instance (so a plain terminal agrees with the worker)."""

from __future__ import annotations

from click.testing import CliRunner

from app import config
from app.cli import main
from tests.conftest import TEST_KEYS

LOOPBACK_KEYCLOAK = {"base_url": "http://127.0.0.1:9", "realm": "corp", "client_id": "c",
                     "client_secret": "s3cret"}


def test_unset_rule_follows_what_usersync_run_recorded(tmp_path):
    env = {"USERSYNC_INSTANCE_PATH": str(tmp_path)}
    assert config.load(env)["ALLOW_PRIVATE_URLS"] is False
    config.record_network_rule(tmp_path, True)
    assert config.load(env)["ALLOW_PRIVATE_URLS"] is True
    assert config.load({**env, "USERSYNC_ALLOW_PRIVATE_URLS": "false"})["ALLOW_PRIVATE_URLS"] is False
    config.record_network_rule(tmp_path, False)
    assert config.load(env)["ALLOW_PRIVATE_URLS"] is False


def test_devserver_records_the_rule_it_gives_its_children(tmp_path):
    from app import devserver

    settings = config.load({"USERSYNC_INSTANCE_PATH": str(tmp_path)})
    env = devserver.child_env(settings, "redis://127.0.0.1:1", 8080, sandbox_port=8090)
    devserver.record_rule(settings, env)
    assert config.load({"USERSYNC_INSTANCE_PATH": str(tmp_path)})["ALLOW_PRIVATE_URLS"] is True
    without_sandbox = devserver.child_env(settings, "redis://127.0.0.1:1", 8080, sandbox_port=None)
    without_sandbox.pop("USERSYNC_ALLOW_PRIVATE_URLS", None)
    devserver.record_rule(settings, without_sandbox)
    assert config.load({"USERSYNC_INSTANCE_PATH": str(tmp_path)})["ALLOW_PRIVATE_URLS"] is False


def _cli_env(monkeypatch, instance, db_url: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("USERSYNC_ALLOW_PRIVATE_URLS", raising=False)
    monkeypatch.setenv("USERSYNC_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("USERSYNC_SECRET_KEYS", ",".join(TEST_KEYS))


def test_cli_test_and_the_admin_api_give_the_same_answer(admin_env, monkeypatch, tmp_path):
    from app import extensions

    r = admin_env.post("/api/admin/connections", json={
        "kind": "keycloak", "name": "KC", "settings": LOOPBACK_KEYCLOAK})
    cid = str(r.get_json()["id"])
    instance = tmp_path / "instance"
    instance.mkdir()
    _cli_env(monkeypatch, instance, extensions.db.url)
    # no rule recorded: a plain terminal refuses http on loopback, and so does the API
    refused = CliRunner().invoke(main, ["connections", "test", cid])
    assert refused.exit_code == 1 and "failed (config)" in refused.output
    admin_env.app.config["ALLOW_PRIVATE_URLS"] = config.load()["ALLOW_PRIVATE_URLS"]
    assert admin_env.post(f"/api/admin/connections/{cid}/test").get_json()["reason"] == "config"
    # `usersync run` recorded that its sandbox set-up allows private URLs: both now reach it
    config.record_network_rule(instance, True)
    reached = CliRunner().invoke(main, ["connections", "test", cid])
    assert reached.exit_code == 1 and "failed (unreachable)" in reached.output, reached.output
    admin_env.app.config["ALLOW_PRIVATE_URLS"] = config.load()["ALLOW_PRIVATE_URLS"]
    assert admin_env.post(f"/api/admin/connections/{cid}/test").get_json()["reason"] == "unreachable"


def test_the_worker_reads_the_same_rule(monkeypatch, tmp_path, database_url):
    from workers import context

    _cli_env(monkeypatch, tmp_path, database_url)
    config.record_network_rule(tmp_path, True)
    context.settings.cache_clear()
    try:
        assert context.environment().allow_private is True
    finally:
        context.settings.cache_clear()
