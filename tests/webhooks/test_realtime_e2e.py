"""End to end with a real `rq worker`: a user taken out of an IdP group leaves the Atlassian
sandbox group within 2 s of the webhook, recorded as a `webhook` run."""

from __future__ import annotations

import json
import time

import pytest

from app import extensions
from app.models import Connection
from app.webhooks import endpoints
from sandbox.idps.hooks_standard import SignedSender
from tests.engine.harness import directory, shared_redis_stack
from tests.engine.test_worker_e2e import LENIENT, runs, wait_for, worker


@pytest.fixture()
def env(test_config, tmp_path):
    with shared_redis_stack(test_config, tmp_path) as s:
        yield s


def test_a_group_removal_reaches_atlassian_within_two_seconds_of_the_webhook(env):
    users = [(f"u{i}", f"user{i}@example.com", True) for i in range(20)]
    for _, email, _ in users:
        env.cloud.site.add_user(email)
    groups = {"eng": [u[0] for u in users[:10]], "ops": [u[0] for u in users[10:]]}
    cid = env.connection(directory(users, groups), {"policy": LENIENT})
    assert env.sync(cid).status == "succeeded"
    assert "user3@example.com" in env.members("eng")
    with extensions.db.session() as session:
        endpoint = endpoints.ensure(session, session.get(Connection, cid), extensions.secrets.encrypt)
        sender = SignedSender(endpoints.url(env.app_url, endpoint),
                              extensions.secrets.decrypt(endpoint.secret_encrypted))
    proc = worker(env, "--worker-class", "rq.worker.SimpleWorker")
    try:
        # a warm worker (a first webhook run loads the sync code), as in steady operation
        assert sender.standard("user.updated", {"user": {"id": "u1"}}) == 200
        wait_for(lambda: len(runs(cid)) == 2 and runs(cid)[-1].status == "succeeded", timeout=60)
        groups["eng"].remove("u3")
        env.write_directory(directory(users, groups))
        started = time.monotonic()
        assert sender.standard("user.updated", {"user": {"id": "u3"}}) == 200
        wait_for(lambda: "user3@example.com" not in env.members("eng"), timeout=10, step=0.02)
        elapsed = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert elapsed < 2.0, f"took {elapsed:.2f} s"
    last = runs(cid)[-1]
    assert last.trigger == "webhook" and last.status == "succeeded"
    assert "user3@example.com" not in env.members("eng")
    assert len(env.members("eng")) == 9 and len(env.members("ops")) == 10
    print(json.dumps({"webhook_to_atlassian_seconds": round(elapsed, 3)}))
