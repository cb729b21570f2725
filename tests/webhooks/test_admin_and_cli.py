"""The webhook URL and secret in the admin API and in `usersync webhooks show|rotate`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from app.cli import main
from tests.admin.conftest import admin_env  # noqa: F401  (the fixture)
from tests.admin.test_connections import create, directory_connection
from tests.conftest import TEST_KEYS
from tests.webhooks.conftest import add_connection


def test_admin_api_shows_and_rotates_the_webhook(admin_env):  # noqa: F811
    conn = directory_connection(admin_env)
    first = admin_env.get(f"/api/admin/connections/{conn['id']}/webhook")
    assert first.status_code == 200, first.get_json()
    hook = first.get_json()
    assert hook["url"].startswith(admin_env.app_url + "/webhooks/")
    assert hook["secret"].startswith("whsec_") and hook["format"] == "standard-webhooks"
    assert any(hook["url"] in step for step in hook["setup"])
    again = admin_env.get(f"/api/admin/connections/{conn['id']}/webhook").get_json()
    assert again["url"] == hook["url"] and again["secret"] == hook["secret"]
    rotated = admin_env.post(f"/api/admin/connections/{conn['id']}/webhook/rotate").get_json()
    assert rotated["url"] != hook["url"] and rotated["secret"] != hook["secret"]
    assert rotated["rotated_at"]


def test_admin_api_refuses_scim_push_connections_and_other_sites(admin_env):  # noqa: F811
    scim = create(admin_env, kind="scim_push", name="pushed", settings={})
    assert admin_env.get(f"/api/admin/connections/{scim['id']}/webhook").status_code == 409
    assert admin_env.get("/api/admin/connections/99999/webhook").status_code == 404
    assert admin_env.post("/api/admin/connections/99999/webhook/rotate").status_code == 404


def test_cli_show_and_rotate(test_config, app, monkeypatch, tmp_path):
    for key, value in {"DATABASE_URL": test_config["DATABASE_URL"], "REDIS_URL": test_config["REDIS_URL"],
                       "USERSYNC_SECRET_KEYS": ",".join(TEST_KEYS),
                       "USERSYNC_BASE_URL": "https://usersync.example.com",
                       "USERSYNC_INSTANCE_PATH": str(tmp_path / "cli")}.items():
        monkeypatch.setenv(key, value)
    cid = add_connection("okta")
    shown = CliRunner().invoke(main, ["webhooks", "show", str(cid)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    hook = json.loads(shown.output)
    assert hook["kind"] == "okta" and hook["format"] == "okta-event-hook"
    assert hook["url"].startswith("https://usersync.example.com/webhooks/")
    assert any(hook["secret"] in step for step in hook["setup"])
    rotated = json.loads(CliRunner().invoke(main, ["webhooks", "rotate", str(cid)]).output)
    assert rotated["secret"] != hook["secret"]
    missing = CliRunner().invoke(main, ["webhooks", "show", "987654"])
    assert missing.exit_code != 0 and "no connection" in missing.output


def test_admin_api_shows_the_subscriptions_held_at_google(admin_env):  # noqa: F811
    from datetime import UTC, datetime, timedelta

    from app import extensions
    from app.models.webhook import IdpSubscription
    from sandbox.idps.directory import Directory
    from sandbox.idps.google import ADMIN, Workspace

    key = Workspace(Directory(), set()).key_file("https://oauth2.googleapis.com/token")
    google = create(admin_env, kind="google", name="Workspace",
                    settings={"service_account_key": key, "admin_email": ADMIN})
    path = f"/api/admin/connections/{google['id']}/webhook"
    assert admin_env.get(path).get_json()["subscriptions"] == []
    expires = datetime.now(UTC) + timedelta(days=5)
    with extensions.db.session() as session:
        session.add(IdpSubscription(connection_id=google["id"], provider="google",
                                    resource="admin-activity", external_id="chan-1",
                                    resource_id="r1", expires_at=expires))
    held = admin_env.get(path).get_json()["subscriptions"]
    assert [(s["resource"], s["provider"], s["external_id"]) for s in held] == [
        ("admin-activity", "google", "chan-1")]
    assert datetime.fromisoformat(held[0]["expires_at"]).date() == expires.date()
    # a rotation leaves the channel naming a dead URL: it is due now and its renewal is queued
    rotated = admin_env.post(f"{path}/rotate").get_json()
    assert rotated["subscriptions"][0]["expires_at"] == rotated["rotated_at"]
    from redis import Redis

    from workers.queue import queue

    redis = Redis.from_url(admin_env.app.config["REDIS_URL"])
    assert f"subscriptions-{google['id']}" in queue(redis).job_ids
    plain = directory_connection(admin_env, name="file")
    assert admin_env.get(f"/api/admin/connections/{plain['id']}/webhook").get_json()[
        "subscriptions"] is None
