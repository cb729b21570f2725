"""The first run's sandbox IdP signs each `leave`/`join` as a Standard Webhook to the app."""

from __future__ import annotations

import time

from sandbox.demo import idp

TOKEN = "t0ken"


def wait_until(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_leave_and_join_send_signed_webhooks_once_registered(hook_for, tmp_path):
    hook = hook_for("scim_pull")
    path = tmp_path / "idp.json"
    directory = idp.load_or_generate(path, 40)
    client = idp.create_app(directory, path, TOKEN).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    someone = directory.person_list()[0]
    # before registration: no webhook, the schedule carries the change
    before = client.post("/sandbox/leave", json={"email": someone.email}, headers=auth).get_json()
    assert before["webhook"] is False
    assert client.post("/sandbox/webhook", json={"url": hook.url, "secret": "nope"},
                       headers=auth).status_code == 400
    assert client.post("/sandbox/webhook", json={"url": hook.url, "secret": hook.secret}).status_code == 401
    assert client.post("/sandbox/webhook", json={"url": hook.url, "secret": hook.secret},
                       headers=auth).status_code == 200
    joined = client.post("/sandbox/join", json={"email": someone.email, "group": "legal"},
                         headers=auth).get_json()
    assert joined["webhook"] is True
    # the IdP posts from its own thread and the app enqueues after it records the reference
    assert wait_until(lambda: hook.pending() == {f"u:{someone.id}"} and hook.queued() == 1), \
        hook.side_effects()
    # the registration survives a restart of the IdP
    again = idp.create_app(idp.load_or_generate(path, 40), path, TOKEN).test_client()
    assert again.post("/sandbox/leave", json={"email": someone.email}, headers=auth).get_json()["webhook"]
