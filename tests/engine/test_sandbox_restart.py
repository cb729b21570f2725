"""`usersync run` restarted: the earlier sandbox site is gone, so its connection is not synced."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app import create_app, demo, extensions
from app.models import Connection, Installation, InstallationState
from sandbox.atlassian.testing import running_site
from sandbox.live import LiveServer
from tests.conftest import TEST_KEYS
from tests.engine.harness import LateApp
from workers import schedule
from workers.queue import NotInstalled, enqueue_sync, queued, queues


def bootstrap_into_fresh_sandbox(settings: dict, app, app_url: str) -> int:  # type: ignore[no-untyped-def]
    """One `usersync run`: a new sandbox site (new port, empty memory) and the demo wiring."""
    with running_site(admin_api_token="sandbox-token") as cloud:
        app.config["INSTALL_KEYS_URL"] = cloud.base_url + "/connect-install-keys/"
        return demo.bootstrap(settings, app_url, cloud.base_url,
                              (cloud.admin_email, cloud.admin_api_token), lambda cid: None)


def test_connections_of_an_earlier_sandbox_run_are_neither_ticked_nor_queued(
        test_config):
    late = LateApp()
    with LiveServer(late) as server:
        test_config.update(BASE_URL=server.url, SECRET_KEYS=TEST_KEYS)
        late.app = create_app(test_config)
        redis = extensions.redis(test_config)
        redis.flushdb()
        first = bootstrap_into_fresh_sandbox(late.app.config, late.app, server.url)
        second = bootstrap_into_fresh_sandbox(late.app.config, late.app, server.url)
    assert first != second, "the second run's site is a new installation"
    with extensions.db.session() as session:
        old = session.get(Connection, first).installation
        assert old.state == InstallationState.UNINSTALLED
        assert session.get(Connection, second).installation.state == InstallationState.ENABLED

    assert schedule.tick(extensions.db, redis, datetime.now(UTC)) == 1
    assert [job.args[0] for q in queues(redis) for job in q.get_jobs()] == [second]
    with pytest.raises(NotInstalled, match="uninstalled"):
        enqueue_sync(redis, first, "manual")
    assert queued(redis) == 1

    result = late.app.test_cli_runner().invoke(args=["sync", str(first)])
    assert result.exit_code != 0 and "uninstalled" in result.output
    assert queued(redis) == 1


def test_only_loopback_sites_count_as_sandbox_sites(test_config):
    create_app(test_config)
    with extensions.db.session() as session:
        for key, url in (("real", "https://acme.atlassian.net"), ("old", "http://127.0.0.1:8090"),
                         ("local", "http://localhost:8091")):
            session.add(Installation(client_key=key, product_type="jira", base_url=url,
                                     shared_secret_encrypted="x"))
    with extensions.db.session() as session:
        assert sorted(demo.forget_earlier_sandboxes(session)) == ["local", "old"]
    with extensions.db.session() as session:
        states = {i.client_key: i.state for i in session.query(Installation)}
    assert states == {"real": InstallationState.ENABLED, "old": InstallationState.UNINSTALLED,
                      "local": InstallationState.UNINSTALLED}
