"""A burst of deliveries for one connection: one enqueue per waiting job, nothing lost; and
Okta's verification GET refused when it carries a wrong auth header."""

from __future__ import annotations

import requests

from tests.foundation.test_queues import add_run
from tests.webhooks.conftest import NOTHING
from tests.webhooks.test_handshakes import okta_delivery
from workers import events
from workers.queue import WAITING_KEY, enqueue_sync, queue
from workers.routing import BULK, INTERACTIVE
from workers.runlock import compare_and_delete


def removal(hook, user: str) -> int:
    body = okta_delivery("group.user_membership.remove",
                         [{"id": user, "type": "User"}, {"id": "00g1", "type": "UserGroup"}])
    return hook.post(body, {"Authorization": hook.secret, "Content-Type": "application/json"}).status_code


def test_a_burst_enqueues_one_job_and_keeps_every_reference(hook_for):
    hook = hook_for("okta")
    assert [removal(hook, f"00u{i}") for i in range(20)] == [200] * 20
    effects = hook.side_effects()
    assert effects["queued"] == 1 and effects["waiting"] and effects["flagged"]
    assert effects["pending"] == {f"u:00u{i}" for i in range(20)} | {"g:00g1"}


def test_once_the_waiting_job_starts_the_next_delivery_enqueues_again(hook_for):
    hook = hook_for("okta")
    assert removal(hook, "00u1") == 200
    key = WAITING_KEY.format(cid=hook.cid)
    # what sync_connection does first, under the run lock: this job no longer waits
    assert compare_and_delete(hook.redis, key, hook.redis.get(key).decode())
    assert removal(hook, "00u2") == 200
    assert hook.queued() == 2 and hook.redis.get(key) is not None


def test_a_waiting_job_of_another_trigger_is_joined_through_the_queue(hook_for):
    hook = hook_for("okta")
    scheduled = enqueue_sync(hook.redis, hook.cid, trigger="schedule")
    assert removal(hook, "00u1") == 200
    # joined (promoted if the webhook's queue is faster), not enqueued beside it
    assert hook.queued() == 1
    marker = hook.redis.get(events.ENQUEUED_KEY.format(cid=hook.cid))
    assert marker is not None and marker.decode() == scheduled


def test_an_event_naming_people_on_a_big_connection_queues_ahead_of_bulk_work(hook_for):
    hook = hook_for("okta")
    add_run(hook.cid, "succeeded", {"desired_memberships": 10**7})
    assert removal(hook, "00u1") == 200
    assert queue(hook.redis, INTERACTIVE).count == 1 and queue(hook.redis, BULK).count == 0


def test_okta_verification_with_a_wrong_auth_header_is_401(hook_for):
    hook = hook_for("okta")
    r = requests.get(hook.url, timeout=5, headers={"X-Okta-Verification-Challenge": "c1",
                                                   "Authorization": "not-the-secret"})
    assert r.status_code == 401
    assert hook.side_effects() == NOTHING


def test_okta_verification_with_the_auth_header_is_answered(hook_for):
    hook = hook_for("okta")
    r = requests.get(hook.url, timeout=5, headers={"X-Okta-Verification-Challenge": "c2",
                                                   "Authorization": hook.secret})
    assert r.status_code == 200 and r.json() == {"verification": "c2"}
