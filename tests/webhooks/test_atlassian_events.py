"""Atlassian says a new account exists (Connect `user_created`, Forge `avi:jira:created:user`):
the IdP user waiting for it is put in each connection's pending set and a run is enqueued."""

from __future__ import annotations

from redis import Redis

from tests.engine.harness import directory, stack
from tests.forge.helpers import connection, fresh_queue, queued_syncs
from workers.events import PENDING_KEY


def fresh_redis(config: dict) -> Redis:
    redis = Redis.from_url(config["REDIS_URL"])
    redis.flushdb()
    return redis


def pending(redis: Redis, cid: int) -> set[str]:
    return {m.decode() for m in redis.smembers(PENDING_KEY.format(cid=cid))}


def test_connect_user_created_resyncs_the_waiting_user(test_config, tmp_path):
    with stack(test_config, tmp_path) as s:
        redis = fresh_redis(test_config)
        queue = fresh_queue(test_config)
        cid = s.connection(directory([("u1", "new.hire@example.com", True)], {"eng": ["u1"]}))
        user = s.cloud.site.add_user("New.Hire@example.com")
        assert s.cloud.send_webhook("user_created", user) == [204]
        assert pending(redis, cid) == {"n:new.hire@example.com"}
        assert queued_syncs(queue) == [(cid, "webhook")]
        # a forged delivery (no valid JWT) does nothing
        redis.delete(PENDING_KEY.format(cid=cid))
        import requests

        r = requests.post(f"{s.app_url}/webhooks/atlassian/user_created", timeout=5,
                          json={"user": {"accountId": "x", "emailAddress": "eve@example.com"}})
        assert r.status_code == 401 and pending(redis, cid) == set()


def test_forge_user_created_event_resyncs_the_waiting_user(forge_stack, test_config, tmp_path):
    redis = fresh_redis(test_config)
    queue = fresh_queue(test_config)
    inst = forge_stack.install()
    path = tmp_path / "d.json"
    path.write_text('{"users": [], "groups": []}')
    cid = connection(inst.installation_id, str(path))
    statuses = forge_stack.forge.invoker.product_event(
        inst, "avi:jira:created:user",
        {"user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Ann", "active": True,
                  "emailAddress": "ann@example.com"}})
    assert statuses == [204]
    assert pending(redis, cid) == {"n:ann@example.com"}
    assert (cid, "webhook") in queued_syncs(queue)


def test_forge_user_event_without_an_e_mail_means_a_full_run(forge_stack, test_config, tmp_path):
    redis = fresh_redis(test_config)
    inst = forge_stack.install()
    path = tmp_path / "d.json"
    path.write_text('{"users": [], "groups": []}')
    cid = connection(inst.installation_id, str(path))
    assert forge_stack.forge.invoker.product_event(
        inst, "avi:jira:created:user", {"user": {"accountId": "5b10", "displayName": "Ann"}}) == [204]
    assert pending(redis, cid) == {"*"}
