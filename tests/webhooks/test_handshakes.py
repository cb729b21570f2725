"""Each IdP's handshake and delivery over HTTP, exactly as documented, and every refusal
(unknown URL 404, bad signature 401, malformed 400, disabled connection) without side effect."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from app.webhooks.signatures import keycloak_signature, sign
from tests.webhooks.conftest import NOTHING


def standard_headers(secret: str, body: bytes, msg_id: str | None = None,
                     timestamp: int | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
            "Content-Type": "application/json"}


def okta_delivery(event_type: str, targets: list[dict]) -> bytes:
    return json.dumps({"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0",
                       "cloudEventsVersion": "0.1", "source": "https://example.okta.com/api/v1/eventHooks/who",
                       "eventId": str(uuid.uuid4()), "contentType": "application/json",
                       "data": {"events": [{"uuid": str(uuid.uuid4()), "eventType": event_type,
                                            "target": targets}]}}).encode()


# --- Okta -------------------------------------------------------------------------------------

def test_okta_verification_echoes_the_challenge(hook_for):
    hook = hook_for("okta")
    r = requests.get(hook.url, headers={"X-Okta-Verification-Challenge": "abc-123_XYZ"}, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"verification": "abc-123_XYZ"}
    assert hook.side_effects() == NOTHING


def test_okta_verification_without_the_challenge_is_400(hook_for):
    hook = hook_for("okta")
    assert requests.get(hook.url, timeout=5).status_code == 400


def test_okta_membership_removal_is_recorded_and_enqueued(hook_for):
    hook = hook_for("okta")
    body = okta_delivery("group.user_membership.remove",
                         [{"id": "00u1", "type": "User", "alternateId": "ann@example.com"},
                          {"id": "00g9", "type": "UserGroup", "displayName": "eng"}])
    r = hook.post(body, {"Authorization": hook.secret, "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    effects = hook.side_effects()
    assert effects["pending"] == {"u:00u1", "g:00g9"}
    assert effects["flagged"] and effects["queued"] == 1 and effects["waiting"]


def test_okta_lifecycle_and_profile_events_name_the_user(hook_for):
    hook = hook_for("okta")
    for kind in ("user.lifecycle.deactivate", "user.account.update_profile", "group.lifecycle.delete"):
        target = {"id": kind[:4] + "1", "type": "UserGroup" if kind.startswith("group") else "User"}
        assert hook.post(okta_delivery(kind, [target]), {"Authorization": hook.secret}).status_code == 200
    assert hook.pending() == {"u:user1", "g:grou1"}
    assert hook.queued() == 1, "three deliveries, one waiting run"


@pytest.mark.parametrize("auth", [None, "wrong", "whsec_x"])
def test_okta_delivery_with_a_wrong_secret_is_401_without_side_effect(hook_for, auth):
    hook = hook_for("okta")
    headers = {"Authorization": auth} if auth else {}
    r = hook.post(okta_delivery("user.lifecycle.deactivate", [{"id": "00u1", "type": "User"}]), headers)
    assert r.status_code == 401
    assert hook.side_effects() == NOTHING


def test_okta_malformed_delivery_is_400_without_side_effect(hook_for):
    hook = hook_for("okta")
    for body in (b"not json", b'{"data": {}}', b'{"data": {"events": [{"target": []}]}}'):
        assert hook.post(body, {"Authorization": hook.secret}).status_code == 400
    assert hook.side_effects() == NOTHING


# --- Microsoft Graph --------------------------------------------------------------------------

def test_graph_validation_echoes_the_decoded_token_as_text_plain(hook_for):
    hook = hook_for("entra")
    token = "Validation: Testing client application reachability for subscription Request-Id: 3b3f9821"
    started = time.monotonic()
    r = requests.post(hook.url, params={"validationToken": token}, timeout=10)
    assert time.monotonic() - started < 10
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == token
    assert hook.side_effects() == NOTHING


def graph_note(secret: str, resource: str, kind: str, ident: str, **extra) -> dict:
    return {"subscriptionId": str(uuid.uuid4()), "clientState": secret, "changeType": "updated",
            "resource": resource, "tenantId": str(uuid.uuid4()),
            "subscriptionExpirationDateTime": "2026-12-30T00:00:00Z",
            "resourceData": {"@odata.type": kind, "@odata.id": resource, "id": ident}, **extra}


def test_graph_notifications_are_accepted_with_202(hook_for):
    hook = hook_for("entra")
    body = {"value": [graph_note(hook.secret, "Users/u-1", "#Microsoft.Graph.User", "u-1"),
                      graph_note(hook.secret, "Groups/g-1", "#Microsoft.Graph.Group", "g-1")]}
    r = hook.post(json.dumps(body), {"Content-Type": "application/json"})
    assert r.status_code == 202
    assert hook.pending() == {"u:u-1", "g:g-1"}
    assert hook.queued() == 1


def test_graph_wrong_client_state_is_401_without_side_effect(hook_for):
    hook = hook_for("entra")
    body = {"value": [graph_note(hook.secret, "Users/u-1", "#Microsoft.Graph.User", "u-1"),
                      graph_note("other", "Users/u-2", "#Microsoft.Graph.User", "u-2")]}
    assert hook.post(json.dumps(body)).status_code == 401
    assert hook.side_effects() == NOTHING


def test_graph_missed_lifecycle_notification_means_a_full_run(hook_for):
    hook = hook_for("entra")
    body = {"value": [{"subscriptionId": "s-1", "clientState": hook.secret, "lifecycleEvent": "missed",
                       "resource": "users", "tenantId": "t", "organizationId": "t",
                       "subscriptionExpirationDateTime": "2026-12-30T00:00:00Z"}]}
    assert hook.post(json.dumps(body)).status_code == 202
    assert hook.pending() == {"*"}


def test_graph_reauthorization_required_enqueues_the_renewal(hook_for):
    hook = hook_for("entra")
    body = {"value": [{"subscriptionId": "s-1", "clientState": hook.secret,
                       "lifecycleEvent": "reauthorizationRequired", "resource": "users",
                       "tenantId": "t", "subscriptionExpirationDateTime": "2026-12-30T00:00:00Z"}]}
    assert hook.post(json.dumps(body)).status_code == 202
    jobs = [j.func_name for j in __import__("workers.queue", fromlist=["queue"]).queue(hook.redis).jobs]
    assert jobs == ["workers.jobs.ensure_subscriptions"]
    assert hook.pending() == set(), "nothing changed in the directory"


def test_graph_malformed_is_400(hook_for):
    hook = hook_for("entra")
    for body in (b"{}", b'{"value": []}', b'{"value": [1]}', b"<xml/>"):
        assert hook.post(body).status_code == 400
    assert hook.side_effects() == NOTHING


# --- Google -----------------------------------------------------------------------------------

def google_headers(secret: str, state: str, channel: str = "chan-1") -> dict[str, str]:
    return {"X-Goog-Channel-ID": channel, "X-Goog-Channel-Token": secret,
            "X-Goog-Channel-Expiration": "Tue, 29 Dec 2026 00:00:00 GMT",
            "X-Goog-Resource-ID": "res-1", "X-Goog-Resource-State": state,
            "X-Goog-Resource-URI": "https://admin.googleapis.com/admin/directory/v1/users?customer=my_customer",
            "X-Goog-Message-Number": "1", "Content-Type": "application/json; charset=UTF-8"}


def test_google_sync_message_is_acknowledged_without_work(hook_for):
    hook = hook_for("google")
    r = hook.post(b"", google_headers(hook.secret, "sync"))
    assert r.status_code == 200
    assert hook.side_effects() == NOTHING


def test_google_user_update_names_the_user(hook_for):
    hook = hook_for("google")
    body = {"kind": "admin#directory#user", "id": "1077", "etag": "\"x\"", "primaryEmail": "ann@example.com"}
    assert hook.post(json.dumps(body), google_headers(hook.secret, "update")).status_code == 200
    assert hook.pending() == {"u:1077"}


def test_google_admin_activity_membership_names_the_member(hook_for):
    hook = hook_for("google")
    body = {"kind": "admin#reports#activity", "id": {"time": "2026-12-01T00:00:00Z", "uniqueQualifier": "1",
                                                      "applicationName": "admin", "customerId": "C01"},
            "events": [{"type": "GROUP_SETTINGS", "name": "REMOVE_GROUP_MEMBER",
                        "parameters": [{"name": "USER_EMAIL", "value": "ann@example.com"},
                                       {"name": "GROUP_EMAIL", "value": "eng@example.com"}]}]}
    # a Reports message names its event as the resource state
    assert hook.post(json.dumps(body), google_headers(hook.secret, "REMOVE_GROUP_MEMBER")).status_code == 200
    assert hook.pending() == {"n:ann@example.com"}


def test_google_wrong_channel_token_is_401(hook_for):
    hook = hook_for("google")
    assert hook.post(b"", google_headers("nope", "sync")).status_code == 401
    assert hook.post(b'{"id": "1"}', google_headers("nope", "update")).status_code == 401
    assert hook.side_effects() == NOTHING


def test_google_unknown_state_or_body_is_400(hook_for):
    hook = hook_for("google")
    assert hook.post(b"{}", google_headers(hook.secret, "exploded")).status_code == 400
    assert hook.post(b"[]", google_headers(hook.secret, "update")).status_code == 400
    assert hook.side_effects() == NOTHING


# --- Standard Webhooks (custom IdPs, Keycloak without the extension) ---------------------------

def test_standard_webhook_with_names_and_ids(hook_for):
    hook = hook_for("custom_rest")
    body = json.dumps({"type": "user.updated", "data": {
        "users": ["ann@example.com", {"id": "u-7"}, {"userName": "bob"}],
        "groups": [{"name": "Engineering"}]}}).encode()
    r = hook.post(body, standard_headers(hook.secret, body))
    assert r.status_code == 200, r.text
    assert hook.pending() == {"n:ann@example.com", "u:u-7", "n:bob", "gn:Engineering"}


def test_standard_directory_changed_means_everything(hook_for):
    hook = hook_for("ldap")
    body = b'{"type": "directory.changed", "data": {}}'
    assert hook.post(body, standard_headers(hook.secret, body)).status_code == 200
    assert hook.pending() == {"*"}


def test_standard_replay_of_a_seen_id_does_nothing_again(hook_for):
    hook = hook_for("custom_rest")
    body = b'{"type": "user.deleted", "data": {"user": {"id": "u-1"}}}'
    headers = standard_headers(hook.secret, body, msg_id="msg_replayed")
    assert hook.post(body, headers).status_code == 200
    hook.redis.delete(f"usersync:webhook:pending:{hook.cid}")
    again = hook.post(body, headers)
    assert again.status_code == 200 and "duplicate" in again.json()["status"]
    assert hook.pending() == set(), "the replay recorded nothing"


@pytest.mark.parametrize("tamper", ["body", "secret", "old", "future", "no-signature", "v2"])
def test_standard_bad_signatures_are_401_without_side_effect(hook_for, tamper):
    hook = hook_for("custom_rest")
    body = b'{"type": "user.deleted", "data": {"user": "ann@example.com"}}'
    now = int(time.time())
    headers = standard_headers(hook.secret, body)
    if tamper == "body":
        body = body.replace(b"ann", b"eve")
    elif tamper == "secret":
        headers = standard_headers("whsec_" + "QUJD" * 8, body)
    elif tamper == "old":
        headers = standard_headers(hook.secret, body, timestamp=now - 301)
    elif tamper == "future":
        # past the tolerance by more than a slow machine takes to deliver it
        headers = standard_headers(hook.secret, body, timestamp=now + 330)
    elif tamper == "no-signature":
        del headers["webhook-signature"]
    else:
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    assert hook.post(body, headers).status_code == 401
    assert hook.side_effects() == NOTHING


def test_standard_signature_list_accepts_any_matching_entry(hook_for):
    hook = hook_for("custom_rest")
    body = b'{"type": "group.updated", "data": {"group": {"id": "g-1"}}}'
    headers = standard_headers(hook.secret, body)
    headers["webhook-signature"] = "v1,Zm9vYmFy " + headers["webhook-signature"]
    assert hook.post(body, headers).status_code == 200
    assert hook.pending() == {"g:g-1"}


@pytest.mark.parametrize("body", [b"nope", b'{"type": "user.exploded", "data": {}}',
                                  b'{"type": "user.updated", "data": {}}',
                                  b'{"type": "user.updated", "data": {"users": [42]}}'])
def test_standard_malformed_bodies_are_400_without_side_effect(hook_for, body):
    hook = hook_for("custom_rest")
    assert hook.post(body, standard_headers(hook.secret, body)).status_code == 400
    assert hook.side_effects() == NOTHING


# --- p2-inc/keycloak-events -------------------------------------------------------------------

def keycloak_event(**fields) -> bytes:
    return json.dumps({"time": int(time.time() * 1000), "realmId": "acme", "uid": str(uuid.uuid4()),
                       "authDetails": {"realmId": "master", "userId": "admin-1"}, **fields}).encode()


def test_keycloak_extension_membership_event(hook_for):
    hook = hook_for("keycloak")
    body = keycloak_event(type="admin.GROUP_MEMBERSHIP-DELETE", operationType="DELETE",
                          resourceType="GROUP_MEMBERSHIP", resourcePath="users/kc-u1/groups/kc-g1")
    r = hook.post(body, {"X-Keycloak-Signature": keycloak_signature(hook.secret, body),
                         "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert hook.pending() == {"u:kc-u1", "g:kc-g1"}


def test_keycloak_login_events_are_no_work(hook_for):
    hook = hook_for("keycloak")
    body = keycloak_event(type="access.LOGIN", userId="kc-u1")
    r = hook.post(body, {"X-Keycloak-Signature": keycloak_signature(hook.secret, body)})
    assert r.status_code == 200
    assert hook.side_effects()["pending"] == set() and hook.queued() == 0


def test_keycloak_bad_signature_is_401(hook_for):
    hook = hook_for("keycloak")
    body = keycloak_event(type="admin.USER-DELETE", resourcePath="users/kc-u1")
    for sig in ("00" * 32, "zz", keycloak_signature("other", body)):
        assert hook.post(body, {"X-Keycloak-Signature": sig}).status_code == 401
    assert hook.side_effects() == NOTHING


def test_keycloak_also_takes_standard_webhooks(hook_for):
    hook = hook_for("keycloak")
    body = b'{"type": "user.updated", "data": {"user": {"id": "kc-u2"}}}'
    assert hook.post(body, standard_headers(hook.secret, body)).status_code == 200
    assert hook.pending() == {"u:kc-u2"}


# --- every kind -------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_address_is_404(live, method):
    for token in ("x" * 43, "short", "../../etc", "a" * 200):
        r = requests.request(method, f"{live.url}/webhooks/{token}", timeout=5,
                             headers={"X-Okta-Verification-Challenge": "c"})
        assert r.status_code == 404


def test_scim_push_connections_have_no_webhook(hook_for, live):
    with pytest.raises(Exception, match="SCIM push"):
        hook_for("scim_push")


def test_a_rotated_url_stops_working(hook_for, app):
    from app import extensions
    from app.models import Connection
    from app.webhooks import endpoints

    hook = hook_for("okta")
    with extensions.db.session() as session:
        endpoints.rotate(session, session.get(Connection, hook.cid), extensions.secrets.encrypt)
    r = requests.get(hook.url, headers={"X-Okta-Verification-Challenge": "c"}, timeout=5)
    assert r.status_code == 404


@pytest.mark.parametrize("kind", ["okta", "custom_rest"])
def test_a_disabled_connection_does_no_work(hook_for, kind):
    hook = hook_for(kind, enabled=False)
    if kind == "okta":
        body = okta_delivery("user.lifecycle.deactivate", [{"id": "00u1", "type": "User"}])
        r = hook.post(body, {"Authorization": hook.secret})
    else:
        body = b'{"type": "user.deleted", "data": {"user": {"id": "u-1"}}}'
        r = hook.post(body, standard_headers(hook.secret, body))
    assert r.status_code == 200 and "not active" in r.json()["status"]
    assert hook.side_effects() == NOTHING


def test_a_body_over_64_kib_is_413(hook_for):
    hook = hook_for("custom_rest")
    body = b'{"type": "directory.changed", "data": {"pad": "' + b"x" * 70000 + b'"}}'
    assert hook.post(body, standard_headers(hook.secret, body)).status_code == 413
    assert hook.side_effects() == NOTHING


def test_handlers_answer_fast(hook_for):
    hook = hook_for("custom_rest")
    timings = []
    for i in range(40):
        body = json.dumps({"type": "user.updated", "data": {"user": {"id": f"u-{i}"}}}).encode()
        started = time.perf_counter()
        assert hook.post(body, standard_headers(hook.secret, body)).status_code == 200
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[int(len(timings) * 0.95)] < 0.5


def test_an_unreadable_secret_is_a_clear_503_without_side_effect(hook_for):
    from app import extensions
    from app.models.webhook import WebhookEndpoint

    hook = hook_for("custom_rest")
    with extensions.db.session() as session:
        session.query(WebhookEndpoint).filter_by(connection_id=hook.cid).one().secret_encrypted = "gAAAAjunk"
    body = b'{"type": "directory.changed", "data": {}}'
    r = hook.post(body, standard_headers(hook.secret, body))
    assert r.status_code == 503 and "USERSYNC_SECRET_KEYS" in r.json()["error"]
    assert hook.side_effects() == NOTHING


def test_after_a_rotation_the_old_secret_fails_at_once_though_it_was_just_used(hook_for, live):
    from app import extensions
    from app.models import Connection
    from app.webhooks import endpoints

    hook = hook_for("okta")
    body = okta_delivery("user.lifecycle.deactivate", [{"id": "00u1", "type": "User"}])
    assert hook.post(body, {"Authorization": hook.secret}).status_code == 200  # secret now in memory
    with extensions.db.session() as session:
        rotated = endpoints.rotate(session, session.get(Connection, hook.cid),
                                   extensions.secrets.encrypt)
        url = endpoints.url(live.url, rotated)
        secret = extensions.secrets.decrypt(rotated.secret_encrypted)
    assert hook.post(body, {"Authorization": hook.secret}).status_code == 404
    assert requests.post(url, data=body, headers={"Authorization": hook.secret}, timeout=5).status_code == 401
    assert requests.post(url, data=body, headers={"Authorization": secret}, timeout=5).status_code == 200


def test_a_connection_disabled_after_a_delivery_takes_no_more(hook_for):
    from app import extensions
    from app.models import Connection

    hook = hook_for("okta")
    body = okta_delivery("user.lifecycle.deactivate", [{"id": "00u1", "type": "User"}])
    assert hook.post(body, {"Authorization": hook.secret}).json()["status"] == "accepted"
    with extensions.db.session() as session:
        session.get(Connection, hook.cid).enabled = False
    later = okta_delivery("user.lifecycle.deactivate", [{"id": "00u2", "type": "User"}])
    r = hook.post(later, {"Authorization": hook.secret})
    assert r.status_code == 200 and "not active" in r.json()["status"]
    assert "u:00u2" not in hook.pending()
