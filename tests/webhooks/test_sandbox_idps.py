"""The sandbox IdPs run the real handshakes against the live app and send the real event shapes:
Okta's hook verification, Graph's subscription validation and lifecycle notifications, Google's
watch channel with its sync message, and signed Standard Webhooks / Keycloak events."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from app import extensions
from app.connections import validate_settings
from app.models import Connection
from app.models.webhook import IdpSubscription
from sandbox.idps import entra, google, okta
from sandbox.idps.directory import Directory
from sandbox.idps.hooks_okta import remove_member
from sandbox.idps.hooks_standard import SignedSender
from workers import subscriptions
from workers.queue import queue


def directory() -> Directory:
    d = Directory()
    ann, bob = d.add_person("ann"), d.add_person("bob")
    eng = d.add_team("eng")
    eng.member_ids = [ann.id, bob.id]
    return d


def configure(cid: int, kind: str, settings: dict) -> None:
    plain, secret = validate_settings(kind, settings)
    with extensions.db.session() as session:
        conn = session.get(Connection, cid)
        conn.settings = plain
        conn.set_secrets(secret, extensions.secrets.encrypt)


def test_okta_hook_is_verified_by_the_app_and_delivers_a_membership_removal(hook_for):
    d = directory()
    with okta.serve(d) as idp:
        hook = hook_for("okta")
        api = {"Authorization": f"SSWS {okta.API_TOKEN}"}
        created = requests.post(f"{idp.url}/api/v1/eventHooks", headers=api, timeout=5, json={
            "name": "User & Group Sync", "events": {"type": "EVENT_TYPE",
                                                   "items": ["group.user_membership.remove"]},
            "channel": {"type": "HTTP", "version": "1.0.0", "config": {
                "uri": hook.url, "headers": [],
                "authScheme": {"type": "HEADER", "key": "Authorization", "value": hook.secret}}}}).json()
        verified = requests.post(f"{idp.url}/api/v1/eventHooks/{created['id']}/lifecycle/verify",
                                 headers=api, timeout=10)
        assert verified.status_code == 200 and verified.json()["verificationStatus"] == "VERIFIED"
        eng = next(iter(d.teams.values()))
        ann = next(p for p in d.people.values() if p.username == "ann")
        assert remove_member(idp.extra["hooks"], d, eng.id, ann.id) == [200]
        assert hook.pending() == {f"u:{ann.id}", f"g:{eng.id}"}
        assert hook.queued() == 1


def test_okta_verification_fails_for_a_url_that_does_not_answer_it(live):
    with okta.serve(directory()) as idp:
        api = {"Authorization": f"SSWS {okta.API_TOKEN}"}
        created = requests.post(f"{idp.url}/api/v1/eventHooks", headers=api, timeout=5, json={
            "name": "x", "events": {"type": "EVENT_TYPE", "items": ["user.lifecycle.create"]},
            "channel": {"type": "HTTP", "version": "1.0.0",
                        "config": {"uri": f"{live.url}/webhooks/{'x' * 43}"}}}).json()
        r = requests.post(f"{idp.url}/api/v1/eventHooks/{created['id']}/lifecycle/verify",
                          headers=api, timeout=10)
        assert r.status_code == 400


def test_graph_subscriptions_are_validated_created_renewed_and_deliver(hook_for, test_config):
    d = directory()
    with entra.serve(d) as idp:
        hook = hook_for("entra")
        configure(hook.cid, "entra", idp.settings)
        config = {**test_config, "BASE_URL": hook.url.split("/webhooks/")[0]}
        made = subscriptions.ensure(extensions.db, hook.cid, config)
        assert [s["action"] for s in made["subscriptions"]] == ["created", "created"]
        subs = idp.extra["subscriptions"].items
        assert {s["resource"] for s in subs.values()} == {"users", "groups"}
        assert all(s["clientState"] == hook.secret for s in subs.values())
        again = subscriptions.ensure(extensions.db, hook.cid, config)
        assert [s["action"] for s in again["subscriptions"]] == ["kept", "kept"]
        from datetime import UTC, datetime, timedelta

        with extensions.db.session() as session:  # two days before they expire
            for row in session.query(IdpSubscription).filter_by(connection_id=hook.cid):
                row.expires_at = datetime.now(UTC) + timedelta(days=2)
        assert subscriptions.due(extensions.db) == [hook.cid]
        renewed = subscriptions.ensure(extensions.db, hook.cid, config)
        assert [s["action"] for s in renewed["subscriptions"]] == ["renewed", "renewed"]
        ann = next(iter(d.people.values()))
        assert idp.extra["subscriptions"].notify("users", ann.id) == [202]
        assert hook.pending() == {f"u:{ann.id}"}
        assert idp.extra["subscriptions"].lifecycle("missed", "groups") == [202]
        assert hook.pending() == {"*"}
        assert idp.extra["subscriptions"].lifecycle("reauthorizationRequired") == [202]
        assert "workers.jobs.ensure_subscriptions" in [j.func_name for j in queue(hook.redis).jobs]
        with extensions.db.session() as session:
            assert session.query(IdpSubscription).filter_by(connection_id=hook.cid).count() == 2


def test_graph_refuses_a_subscription_whose_url_does_not_validate(hook_for, test_config):

    with entra.serve(directory()) as idp:
        hook = hook_for("entra")
        configure(hook.cid, "entra", idp.settings)
        # a base URL under which nothing answers Graph's validation call
        config = {**test_config, "BASE_URL": hook.url.split("/webhooks/")[0] + "/elsewhere"}
        with pytest.raises(subscriptions.SubscriptionError, match="validation"):
            subscriptions.ensure(extensions.db, hook.cid, config)
        assert idp.extra["subscriptions"].items == {}


def test_google_watch_channels_get_their_sync_message_then_user_changes(hook_for, test_config):
    import time

    d = directory()
    with google.serve(d) as idp:
        hook = hook_for("google")
        configure(hook.cid, "google", idp.settings)
        config = {**test_config, "BASE_URL": hook.url.split("/webhooks/")[0]}
        made = subscriptions.ensure(extensions.db, hook.cid, config)
        assert {s["resource"] for s in made["subscriptions"]} == \
            {*subscriptions.GOOGLE_EVENTS, subscriptions.GOOGLE_ACTIVITY}
        channels = idp.extra["channels"]
        deadline = time.monotonic() + 5
        while len(channels.deliveries) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted((state, status) for _, state, status in channels.deliveries) == [("sync", 200)] * 5
        assert hook.side_effects()["pending"] == set(), "sync messages are no work"
        ann = next(iter(d.people.values()))
        user = {"kind": "admin#directory#user", "id": ann.id, "primaryEmail": ann.email}
        assert channels.notify("update", user) == [200]
        assert hook.pending() == {f"u:{ann.id}"}


def test_google_admin_activity_watch_names_a_removed_member_and_is_renewed(hook_for, test_config):
    from datetime import UTC, datetime, timedelta

    d = directory()
    with google.serve(d) as idp:
        hook = hook_for("google")
        configure(hook.cid, "google", idp.settings)
        config = {**test_config, "BASE_URL": hook.url.split("/webhooks/")[0]}
        subscriptions.ensure(extensions.db, hook.cid, config)
        channels = idp.extra["channels"]
        ann = next(iter(d.people.values()))
        team = next(iter(d.teams.values()))
        params = {"USER_EMAIL": ann.email, "GROUP_EMAIL": f"{team.id}@example.com"}
        assert channels.activity("admin", "GROUP_SETTINGS", "REMOVE_GROUP_MEMBER", params) == [200]
        assert hook.pending() == {f"n:{ann.email}"}
        # a Drive activity reaches no channel: only the admin application is watched
        assert channels.activity("drive", "access", "view", {}) == []
        # near its expiry the channel is replaced by a new one and the old one stopped
        old = {c["id"] for c in channels.items.values() if c["event"] == "activity:admin"}
        later = datetime.now(UTC) + subscriptions.GOOGLE_LIFETIME - timedelta(days=1)
        again = subscriptions.ensure(extensions.db, hook.cid, config, now=later)
        assert {s["resource"]: s["action"] for s in again["subscriptions"]}[
            subscriptions.GOOGLE_ACTIVITY] == "created"
        now_held = {c["id"] for c in channels.items.values() if c["event"] == "activity:admin"}
        assert len(now_held) == 1 and now_held.isdisjoint(old)


def test_keycloak_and_custom_senders_are_accepted(hook_for):
    kc = hook_for("keycloak")
    sender = SignedSender(kc.url, kc.secret)
    assert sender.keycloak({"type": "admin.GROUP_MEMBERSHIP-DELETE", "realmId": "acme",
                            "resourcePath": "users/kc-1/groups/kc-g", "operationType": "DELETE",
                            "resourceType": "GROUP_MEMBERSHIP"}) == 200
    assert kc.pending() == {"u:kc-1", "g:kc-g"}
    custom = hook_for("custom_rest")
    assert SignedSender(custom.url, custom.secret).standard(
        "user.updated", {"user": {"email": "ann@example.com"}}) == 200
    assert custom.pending() == {"n:ann@example.com"}


def test_google_without_the_reports_scope_delegated_is_told_what_to_grant(hook_for, test_config):
    d = directory()
    with google.serve(d, scopes=tuple(sorted(google.DIRECTORY_SCOPES))) as idp:
        hook = hook_for("google")
        configure(hook.cid, "google", idp.settings)
        config = {**test_config, "BASE_URL": hook.url.split("/webhooks/")[0]}
        with pytest.raises(subscriptions.SubscriptionError) as refused:
            subscriptions.ensure(extensions.db, hook.cid, config)
        message = str(refused.value)
        assert "grant admin.reports.audit.readonly to the service account's domain-wide " \
               "delegation" in message
        assert message.count("grant admin.reports.audit.readonly") == 1
        # the users.watch channels were made and are kept, so the next run renews them
        channels = idp.extra["channels"]
        assert sorted(c["event"] for c in channels.items.values()) == sorted(subscriptions.GOOGLE_EVENTS)
        with extensions.db.session() as session:
            held = {s.resource for s in session.scalars(
                select(IdpSubscription).where(IdpSubscription.connection_id == hook.cid))}
        assert held == set(subscriptions.GOOGLE_EVENTS)
        # once the admin adds the scope, the next run opens the admin activity channel only
        idp.extra["workspace"].scopes.add(google.REPORTS_SCOPE)
        again = subscriptions.ensure(extensions.db, hook.cid, config)
        actions = {s["resource"]: s["action"] for s in again["subscriptions"]}
        assert actions == {**{e: "kept" for e in subscriptions.GOOGLE_EVENTS},
                           subscriptions.GOOGLE_ACTIVITY: "created"}


def _rotate(cid: int) -> tuple[str, str]:
    """Rotate the connection's webhook as the admin API does; the new (url path, secret)."""
    from app.webhooks import endpoints

    with extensions.db.session() as session:
        endpoint = endpoints.rotate(session, session.get(Connection, cid), extensions.secrets.encrypt)
        return f"/webhooks/{endpoint.token}", extensions.secrets.decrypt(endpoint.secret_encrypted)


def test_a_rotation_replaces_the_graph_subscriptions_with_the_new_url(hook_for, test_config):
    with entra.serve(directory()) as idp:
        hook = hook_for("entra")
        configure(hook.cid, "entra", idp.settings)
        config = {**test_config, "BASE_URL": hook.url.split("/webhooks/")[0]}
        subscriptions.ensure(extensions.db, hook.cid, config)
        old = set(idp.extra["subscriptions"].items)
        path, secret = _rotate(hook.cid)
        assert subscriptions.due(extensions.db) == [hook.cid], "the tick replaces them too"
        again = subscriptions.ensure(extensions.db, hook.cid, config)
        assert [s["action"] for s in again["subscriptions"]] == ["created", "created"]
        subs = idp.extra["subscriptions"].items
        assert set(subs).isdisjoint(old), "the old subscriptions are deleted at Graph"
        assert all(s["notificationUrl"].endswith(path) and s["clientState"] == secret
                   for s in subs.values())


def test_a_rotation_replaces_the_google_channels_with_the_new_url(hook_for, test_config):
    with google.serve(directory()) as idp:
        hook = hook_for("google")
        configure(hook.cid, "google", idp.settings)
        config = {**test_config, "BASE_URL": hook.url.split("/webhooks/")[0]}
        subscriptions.ensure(extensions.db, hook.cid, config)
        channels = idp.extra["channels"]
        old = set(channels.items)
        path, secret = _rotate(hook.cid)
        again = subscriptions.ensure(extensions.db, hook.cid, config)
        assert {s["action"] for s in again["subscriptions"]} == {"created"}
        assert set(channels.items).isdisjoint(old), "the old channels are stopped"
        assert len(channels.items) == len(subscriptions.GOOGLE_EVENTS) + 1
        assert all(c["address"].endswith(path) and c["token"] == secret
                   for c in channels.items.values())


def test_the_cli_rotation_replaces_the_graph_subscriptions_at_once(hook_for, test_config,
                                                                    monkeypatch, tmp_path):
    import json

    from click.testing import CliRunner

    from app.cli import main
    from tests.conftest import TEST_KEYS

    with entra.serve(directory()) as idp:
        hook = hook_for("entra")
        configure(hook.cid, "entra", idp.settings)
        base = hook.url.split("/webhooks/")[0]
        subscriptions.ensure(extensions.db, hook.cid, {**test_config, "BASE_URL": base})
        old = set(idp.extra["subscriptions"].items)
        for key, value in {"DATABASE_URL": test_config["DATABASE_URL"],
                           "REDIS_URL": test_config["REDIS_URL"],
                           "USERSYNC_SECRET_KEYS": ",".join(TEST_KEYS), "USERSYNC_BASE_URL": base,
                           "USERSYNC_ALLOW_PRIVATE_URLS": "true",
                           "USERSYNC_INSTANCE_PATH": str(tmp_path / "cli")}.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(main, ["webhooks", "rotate", str(hook.cid)])
        assert result.exit_code == 0, result.output
        rotated = json.loads(result.output)
        assert [s["action"] for s in rotated["subscriptions_replaced"]["subscriptions"]] == \
            ["created", "created"]
        subs = idp.extra["subscriptions"].items
        assert set(subs).isdisjoint(old) and all(
            s["notificationUrl"] == rotated["url"] and s["clientState"] == rotated["secret"]
            for s in subs.values())
