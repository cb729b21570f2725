"""Stored pushes reach the sync pipeline: the connection is flagged and one coalesced sync is queued."""

from __future__ import annotations

import pytest
from redis import Redis

from app import create_app
from app.extensions import db
from app.models import Connection
from sandbox.live import LiveServer
from tests.scim.conftest import ScimClient, connect_client, patch_body, user_body
from workers.queue import WAITING_KEY, empty, queued_jobs


@pytest.fixture()
def redis(redis_url: str) -> Redis:
    """The test Redis with no sync queued: database ids restart in every test, queues do not."""
    client = Redis.from_url(redis_url)
    empty(client)
    for key in client.scan_iter(WAITING_KEY.format(cid="*")):
        client.delete(key)
    return client


def pending(connection_id: int) -> bool:
    with db.session() as session:
        return session.get(Connection, connection_id).pending_changes


def queued_syncs(redis: Redis, connection_id: int) -> list:
    return [job for job in queued_jobs(redis)
            if job.func_name == "workers.jobs.sync_connection" and job.args[0] == connection_id]


def test_a_burst_of_pushes_flags_the_connection_and_queues_one_sync(
        scim: ScimClient, redis: Redis) -> None:
    assert not pending(scim.connection_id)
    scim.get("/Users")
    assert not pending(scim.connection_id)  # reads change nothing
    ids = [scim.post("/Users", user_body(f"burst{i}@example.com")).json()["id"]
           for i in range(30)]
    group = scim.post("/Groups", {"displayName": "burst"}).json()
    for user_id in ids:
        scim.patch(f"/Groups/{group['id']}", patch_body(
            {"op": "add", "path": "members", "value": [{"value": user_id}]}))
    assert pending(scim.connection_id)
    jobs = queued_syncs(redis, scim.connection_id)
    assert len(jobs) == 1 and jobs[0].args[1] == "push"
    assert redis.get(WAITING_KEY.format(cid=scim.connection_id)).decode() == jobs[0].id


def test_refused_changes_neither_flag_nor_queue(scim: ScimClient, redis: Redis) -> None:
    scim.post("/Users", {"displayName": "no userName"})
    scim.patch("/Users/unknown", patch_body({"op": "replace", "path": "title", "value": "x"}))
    assert not pending(scim.connection_id)
    assert queued_syncs(redis, scim.connection_id) == []


def test_pushes_are_kept_when_redis_is_down(test_config: dict) -> None:
    # Port 9 (discard) on loopback: nothing listens, every Redis call is refused at once.
    app = create_app({**test_config, "REDIS_URL": "redis://127.0.0.1:9/0"})
    with LiveServer(app) as server:
        app.config["BASE_URL"] = server.url
        scim = connect_client(server)
        created = scim.post("/Users", user_body("kept@example.com"))
        assert created.status_code == 201
        assert scim.get(f"/Users/{created.json()['id']}").status_code == 200
    assert pending(scim.connection_id)
