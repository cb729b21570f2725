"""Okta event hooks for the sandbox Okta org: registration, the one-time verification, delivery.

As documented (developer.okta.com/docs/concepts/event-hooks, /docs/api/openapi/okta-management/
management/tag/EventHook): `POST /api/v1/eventHooks` registers a hook (`events.items`,
`channel.config.uri`, `channel.config.authScheme {type: HEADER, key, value}`), UNVERIFIED;
`POST /api/v1/eventHooks/{id}/lifecycle/verify` makes Okta GET the URI with
`X-Okta-Verification-Challenge` (and the auth header); only a 200 JSON `{"verification": <the
challenge>}` within 3 s verifies it. Verified, active hooks receive POSTs of
`{eventType: "com.okta.event_hook", data: {events: [...]}}` carrying the auth header.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Flask, jsonify, request

VERIFY_TIMEOUT = 3.0
DELIVERY_TIMEOUT = 3.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class OktaHooks:
    """The org's event hooks, and the sending of events to the verified ones."""

    def __init__(self, org_url: str = "https://sandbox.okta.com") -> None:
        self.org_url = org_url
        self.items: dict[str, dict[str, Any]] = {}
        self.deliveries: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def register(self, body: Any):  # type: ignore[no-untyped-def]
        channel = (body or {}).get("channel") if isinstance(body, dict) else None
        config = (channel or {}).get("config") or {}
        events = ((body or {}).get("events") or {}).get("items") if isinstance(body, dict) else None
        if not body.get("name") or not config.get("uri") or not isinstance(events, list) or not events:
            return jsonify(errorCode="E0000001", errorSummary="Api validation failed: name, "
                           "events.items and channel.config.uri are required", errorCauses=[]), 400
        hook = {"id": "who" + secrets.token_hex(8), "status": "ACTIVE",
                "verificationStatus": "UNVERIFIED", "name": body["name"],
                "events": {"type": "EVENT_TYPE", "items": list(events)},
                "channel": {"type": "HTTP", "version": "1.0.0", "config": config},
                "created": _now(), "lastUpdated": _now()}
        with self._lock:
            self.items[hook["id"]] = hook
        return jsonify(hook), 200

    def verify(self, hook_id: str):  # type: ignore[no-untyped-def]
        hook = self.items.get(hook_id)
        if hook is None:
            return jsonify(errorCode="E0000007", errorSummary=f"Not found: Resource not found: "
                           f"{hook_id} (EventHook)", errorCauses=[]), 404
        challenge = secrets.token_urlsafe(32)
        headers = {"X-Okta-Verification-Challenge": challenge, **self._auth(hook)}
        try:
            r = requests.get(hook["channel"]["config"]["uri"], headers=headers, timeout=VERIFY_TIMEOUT)
            answered = r.json().get("verification") if r.status_code == 200 else None
        except (requests.RequestException, ValueError, AttributeError):
            answered = None
        if answered != challenge:
            return jsonify(errorCode="E0000001", errorSummary="Api validation failed: "
                           "Verification of the event hook failed.", errorCauses=[]), 400
        hook["verificationStatus"], hook["lastUpdated"] = "VERIFIED", _now()
        return jsonify(hook), 200

    def emit(self, event_type: str, targets: list[dict[str, Any]]) -> list[int]:
        """Deliver one event to every verified, active hook subscribed to its type."""
        with self._lock:
            hooks = [h for h in self.items.values() if h["verificationStatus"] == "VERIFIED"
                     and h["status"] == "ACTIVE" and event_type in h["events"]["items"]]
        body = {"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0",
                "cloudEventsVersion": "0.1", "contentType": "application/json",
                "eventId": str(uuid.uuid4()), "eventTime": _now(),
                "data": {"events": [{"uuid": str(uuid.uuid4()), "published": _now(),
                                     "eventType": event_type, "version": "0", "severity": "INFO",
                                     "displayMessage": event_type, "actor": {"id": "00uadmin",
                                     "type": "User", "alternateId": "admin@example.com"},
                                     "outcome": {"result": "SUCCESS"}, "target": targets}]}}
        statuses = []
        for hook in hooks:
            body["source"] = f"{self.org_url}/api/v1/eventHooks/{hook['id']}"
            headers = {"Content-Type": "application/json", **self._auth(hook)}
            for header in hook["channel"]["config"].get("headers") or []:
                headers[header["key"]] = header["value"]
            started = time.monotonic()
            try:
                status = requests.post(hook["channel"]["config"]["uri"], json=body, headers=headers,
                                       timeout=DELIVERY_TIMEOUT).status_code
            except requests.RequestException:
                status = 0
            if time.monotonic() - started > DELIVERY_TIMEOUT:
                status = 0  # Okta counts a late answer as a failure
            self.deliveries.append((hook["id"], status))
            statuses.append(status)
        return statuses

    @staticmethod
    def _auth(hook: dict[str, Any]) -> dict[str, str]:
        scheme = hook["channel"]["config"].get("authScheme") or {}
        return {scheme["key"]: scheme["value"]} if scheme.get("type") == "HEADER" else {}


def user_target(person: Any) -> dict[str, Any]:
    return {"id": person.id, "type": "User", "alternateId": person.email,
            "displayName": person.display_name}


def group_target(team: Any) -> dict[str, Any]:
    return {"id": team.id, "type": "UserGroup", "alternateId": "unknown", "displayName": team.name}


def remove_member(hooks: OktaHooks, directory: Any, team_id: str, person_id: str) -> list[int]:
    """Take a person out of a group, as an Okta admin would, and send the event."""
    team, person = directory.teams[team_id], directory.people[person_id]
    team.member_ids = [m for m in team.member_ids if m != person_id]
    team.updated = time.time()
    return hooks.emit("group.user_membership.remove", [user_target(person), group_target(team)])


def add_routes(app: Flask, hooks: OktaHooks) -> None:
    """Mount the event hook API on the sandbox org (its /api/ auth guard applies)."""

    @app.post("/api/v1/eventHooks")
    def register_hook():  # type: ignore[no-untyped-def]
        return hooks.register(request.get_json(silent=True) or {})

    @app.get("/api/v1/eventHooks")
    def list_hooks():  # type: ignore[no-untyped-def]
        return jsonify(list(hooks.items.values()))

    @app.post("/api/v1/eventHooks/<hook_id>/lifecycle/verify")
    def verify_hook(hook_id: str):  # type: ignore[no-untyped-def]
        return hooks.verify(hook_id)
