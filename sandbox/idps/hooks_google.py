"""Directory API push for the sandbox Google Workspace: users.watch channels and their messages.

As documented (developers.google.com/admin-sdk/directory/v1/guides/push): `POST
/admin/directory/v1/users/watch?customer=my_customer&event=add|delete|update|undelete|makeAdmin`
with `{id, type: "web_hook", address, token, params.ttl}` answers the channel with its
`resourceId` and `expiration` (ms); the first message to the address is `X-Goog-Resource-State:
sync`; each later one carries X-Goog-Channel-ID, -Token, -Expiration, X-Goog-Resource-ID, -URI,
-State (the event) and X-Goog-Message-Number, with the User resource as body. `POST
/admin/directory_v1/channels/stop {id, resourceId}` ends a channel.

The Reports API's activity push (developers.google.com/admin-sdk/reports/v1/guides/push and
reference/rest/reports_v1/activities/watch): `POST /admin/reports/v1/activity/users/{userKey}/
applications/{applicationName}/watch[?eventName=]` with the same Channel body; after its `sync`
message, each admin activity (kind `admin#reports#activity`, `events[{type, name,
parameters[{name, value}]}]`, e.g. REMOVE_GROUP_MEMBER with USER_EMAIL and GROUP_EMAIL) is
POSTed with X-Goog-Resource-State set to the event's name. `POST
/admin/reports_v1/channels/stop` ends such a channel. Both need an access token granted the
admin.reports.audit.readonly scope (developers.google.com/admin-sdk/reports/auth); one without it
gets Google's 403 "Request had insufficient authentication scopes." (reason
insufficientPermissions, status PERMISSION_DENIED, WWW-Authenticate error="insufficient_scope").
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from email.utils import formatdate
from typing import Any

import requests
from flask import Flask, jsonify, request

EVENTS = {"add", "delete", "update", "undelete", "makeAdmin"}
REPORT_APPLICATIONS = {"admin", "login", "groups", "drive", "token", "saml", "user_accounts"}
ACTIVITY = "activity:"
"""A Reports channel's `event` is ACTIVITY + application (+ ":" + eventName when filtered)."""
REPORTS_SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"
"""What the Reports API's activities.watch and channels.stop need (developers.google.com/
admin-sdk/reports/auth; reference/rest/reports_v1/activities/watch, Authorization scopes)."""
MAX_TTL = 6 * 3600 * 24 * 7  # the sandbox caps a channel's life as a real API may
DELIVERY_TIMEOUT = 10.0


class GoogleChannels:
    """The watch channels and the sending of push messages to them."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.deliveries: list[tuple[str, str, int]] = []  # (channel, state, status)
        self._lock = threading.Lock()

    def notify(self, event: str, user: dict[str, Any]) -> list[int]:
        """Send `event` about `user` (a Directory User resource) to every channel watching it."""
        with self._lock:
            channels = [c for c in self.items.values()
                        if c["event"] == event and c["expiration"] > time.time() * 1000]
        return [self._send(c, event, user) for c in channels]

    def activity(self, application: str, event_type: str, name: str,
                 parameters: dict[str, str]) -> list[int]:
        """Send one admin activity to every Reports channel watching `application` (and,
        when the channel filtered by eventName, that event)."""
        now = time.time()
        body = {"kind": "admin#reports#activity",
                "id": {"time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now)),
                       "uniqueQualifier": str(uuid.uuid4().int >> 64),
                       "applicationName": application, "customerId": "C0sandbox"},
                "actor": {"email": "admin@example.com", "profileId": "100000000000000000001"},
                "events": [{"type": event_type, "name": name,
                            "parameters": [{"name": k, "value": v} for k, v in parameters.items()]}]}
        with self._lock:
            channels = [c for c in self.items.values() if c["expiration"] > now * 1000
                        and c["event"] in (f"{ACTIVITY}{application}",
                                           f"{ACTIVITY}{application}:{name}")]
        return [self._send(c, name, body) for c in channels]

    def _send(self, channel: dict[str, Any], state: str, body: dict[str, Any] | None) -> int:
        with self._lock:
            channel["number"] += 1
            number = channel["number"]
        headers = {"X-Goog-Channel-ID": channel["id"],
                   "X-Goog-Channel-Expiration": formatdate(channel["expiration"] / 1000, usegmt=True),
                   "X-Goog-Resource-ID": channel["resourceId"],
                   "X-Goog-Resource-URI": channel["resourceUri"],
                   "X-Goog-Resource-State": state, "X-Goog-Message-Number": str(number),
                   "Content-Type": "application/json; charset=UTF-8"}
        if channel.get("token"):
            headers["X-Goog-Channel-Token"] = channel["token"]
        try:
            status = requests.post(channel["address"], headers=headers, timeout=DELIVERY_TIMEOUT,
                                   data=json.dumps(body) if body is not None else b"").status_code
        except requests.RequestException:
            status = 0
        self.deliveries.append((channel["id"], state, status))
        return status

    def watch(self, event: str | None, body: Any, base: str,  # type: ignore[no-untyped-def]
              resource_uri: str | None = None):
        if resource_uri is None and event not in EVENTS:
            return _error(400, "Invalid value for event", "invalid")
        if not isinstance(body, dict) or body.get("type") != "web_hook" or not body.get("id") \
                or not str(body.get("address", "")).startswith(("https://", "http://")):
            return _error(400, "Invalid channel: id, type web_hook and address are required",
                          "required")
        with self._lock:
            if body["id"] in self.items:
                return _error(400, f"Channel id {body['id']} not unique", "channelIdNotUnique")
        ttl = min(int((body.get("params") or {}).get("ttl") or 21600), MAX_TTL)
        channel = {"kind": "api#channel", "id": body["id"], "event": event,
                   "resourceId": uuid.uuid4().hex[:27],
                   "resourceUri": resource_uri
                   or f"{base}/admin/directory/v1/users?customer=my_customer&event={event}",
                   "token": body.get("token"), "address": body["address"],
                   "expiration": int((time.time() + ttl) * 1000), "number": 0}
        with self._lock:
            self.items[channel["id"]] = channel
        # the sync message comes right after the channel exists (sent in the background, as the
        # real API does, so the watch call answers first)
        threading.Thread(target=self._send, args=(channel, "sync", None), daemon=True).start()
        shown = {k: (str(v) if k == "expiration" else v) for k, v in channel.items()
                 if k in ("kind", "id", "resourceId", "resourceUri", "token", "expiration")}
        return jsonify(shown)

    def stop(self, body: Any):  # type: ignore[no-untyped-def]
        if not isinstance(body, dict):
            return _error(400, "id and resourceId are required", "required")
        with self._lock:
            channel = self.items.get(body.get("id") or "")
            if channel is None or channel["resourceId"] != body.get("resourceId"):
                return _error(404, "Channel not found", "notFound")
            del self.items[channel["id"]]
        return "", 204


def _error(status: int, message: str, reason: str):  # type: ignore[no-untyped-def]
    return jsonify(error={"code": status, "message": message,
                          "errors": [{"message": message, "domain": "global", "reason": reason}]}), status


def _insufficient_scopes(method: str):  # type: ignore[no-untyped-def]
    """Google's answer to a valid token that was not granted the scope a method needs."""
    message = "Request had insufficient authentication scopes."
    body = {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED",
                      "errors": [{"message": "Insufficient Permission", "domain": "global",
                                  "reason": "insufficientPermissions"}],
                      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                   "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                                   "domain": "googleapis.com",
                                   "metadata": {"service": "admin.googleapis.com",
                                                "method": method}}]}}
    challenge = (f'Bearer realm="https://accounts.google.com/", error="insufficient_scope", '
                 f'scope="{REPORTS_SCOPE}"')
    return jsonify(body), 403, {"WWW-Authenticate": challenge}


def _reports_refusal(claims: dict[str, Any] | None, method: str):  # type: ignore[no-untyped-def]
    """None when the token may call a Reports API method, else the error answer."""
    if claims is None:
        return _error(401, "Request had invalid authentication credentials.", "authError")
    if REPORTS_SCOPE not in str(claims.get("scope", "")).split():
        return _insufficient_scopes(method)
    return None


def add_routes(app: Flask, channels: GoogleChannels, token_claims) -> None:  # type: ignore[no-untyped-def]
    """Mount users.watch and channels.stop on the sandbox Directory API, and the Reports API's
    activities.watch; `token_claims(header)` is a bearer token's claims, or None."""

    @app.post("/admin/directory/v1/users/watch")
    def users_watch():  # type: ignore[no-untyped-def]
        if request.args.get("customer") not in ("my_customer", "C0sandbox"):
            return _error(400, "Bad Request", "badRequest")
        return channels.watch(request.args.get("event"), request.get_json(silent=True),
                              request.host_url.rstrip("/"))

    @app.post("/admin/reports/v1/activity/users/<user_key>/applications/<application>/watch")
    def activities_watch(user_key: str, application: str):  # type: ignore[no-untyped-def]
        refused = _reports_refusal(token_claims(request.headers.get("Authorization")),
                                   "ccc.hosted.frontend.reports.v1.ActivitiesService.Watch")
        if refused is not None:
            return refused
        if application not in REPORT_APPLICATIONS:
            return _error(400, f"Invalid value '{application}'. Values must match the following "
                               "regular expression: '(admin)|(calendar)|(drive)|(login)|...'",
                          "invalidParameter")
        if user_key != "all":  # the sandbox watches the whole customer only
            return _error(400, "Bad Request", "badRequest")
        name = request.args.get("eventName")
        event = f"{ACTIVITY}{application}" + (f":{name}" if name else "")
        base = request.host_url.rstrip("/")
        uri = f"{base}/admin/reports/v1/activity/users/all/applications/{application}?alt=json"
        return channels.watch(event, request.get_json(silent=True), base, resource_uri=uri)

    @app.post("/admin/directory_v1/channels/stop")
    def channels_stop():  # type: ignore[no-untyped-def]
        if token_claims(request.headers.get("Authorization")) is None:
            return _error(401, "Request had invalid authentication credentials.", "authError")
        return channels.stop(request.get_json(silent=True))

    @app.post("/admin/reports_v1/channels/stop")
    def reports_channels_stop():  # type: ignore[no-untyped-def]
        refused = _reports_refusal(token_claims(request.headers.get("Authorization")),
                                   "ccc.hosted.frontend.reports.v1.ChannelsService.Stop")
        return refused if refused is not None else channels.stop(request.get_json(silent=True))
