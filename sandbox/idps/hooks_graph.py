"""Microsoft Graph change notifications for the sandbox Entra: /v1.0/subscriptions and delivery.

As documented (learn.microsoft.com/graph/api/subscription-post-subscriptions,
/graph/change-notifications-delivery-webhooks, /graph/change-notifications-lifecycle-events):
creating a subscription first POSTs `?validationToken=…` to the notificationUrl (and to the
lifecycleNotificationUrl) and fails with 400 unless the answer is 200 text/plain with the token
itself within 10 s; users and groups subscriptions live at most 41760 minutes (29 days); PATCH
renews `expirationDateTime`; deliveries are `{"value": [...]}` POSTs carrying `clientState`,
answered 2xx within 3 s; lifecycle notifications are reauthorizationRequired,
subscriptionRemoved and missed.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from flask import Flask, jsonify, request

MAX_MINUTES = 41760
VALIDATION_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 3.0
RESOURCES = ("users", "groups")
CHANGE_TYPES = {"created", "updated", "deleted"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _error(status: int, code: str, message: str):  # type: ignore[no-untyped-def]
    return jsonify(error={"code": code, "message": message,
                          "innerError": {"request-id": "sandbox"}}), status


class GraphSubscriptions:
    """The tenant's subscriptions, and the sending of notifications to them."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.deliveries: list[tuple[str, int]] = []  # (subscription id, status)
        self._lock = threading.Lock()

    # -- sending ----------------------------------------------------------------------------
    def notify(self, resource: str, ident: str, change: str = "updated") -> list[int]:
        """Deliver one change of `Users/<id>` or `Groups/<id>` to every live subscription on it."""
        kind = "#Microsoft.Graph.User" if resource == "users" else "#Microsoft.Graph.Group"
        statuses = []
        for sub in self._live(resource):
            item = {"subscriptionId": sub["id"], "clientState": sub.get("clientState"),
                    "changeType": change, "resource": f"{resource.capitalize()}/{ident}",
                    "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "tenantId": sub["tenantId"],
                    "resourceData": {"@odata.type": kind,
                                     "@odata.id": f"{resource.capitalize()}/{ident}",
                                     "id": ident, "organizationId": sub["tenantId"]}}
            statuses.append(self._post(sub, sub["notificationUrl"], item))
        return statuses

    def lifecycle(self, event: str, resource: str = "users") -> list[int]:
        """Send a lifecycle notification (reauthorizationRequired, subscriptionRemoved, missed)."""
        statuses = []
        for sub in self._live(resource):
            item = {"subscriptionId": sub["id"], "clientState": sub.get("clientState"),
                    "lifecycleEvent": event, "resource": resource,
                    "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "tenantId": sub["tenantId"], "organizationId": sub["tenantId"]}
            url = sub.get("lifecycleNotificationUrl") or sub["notificationUrl"]
            statuses.append(self._post(sub, url, item))
            if event == "subscriptionRemoved":
                with self._lock:
                    self.items.pop(sub["id"], None)
        return statuses

    def _live(self, resource: str) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        with self._lock:
            return [s for s in self.items.values()
                    if s["resource"] == resource and _parse(s["expirationDateTime"]) > now]

    def _post(self, sub: dict[str, Any], url: str, item: dict[str, Any]) -> int:
        try:
            status = requests.post(url, json={"value": [item]}, timeout=DELIVERY_TIMEOUT).status_code
        except requests.RequestException:
            status = 0
        self.deliveries.append((sub["id"], status))
        return status

    # -- the API ----------------------------------------------------------------------------
    def create(self, body: Any, tenant: str):  # type: ignore[no-untyped-def]
        if not isinstance(body, dict):
            return _error(400, "InvalidRequest", "The request body must be a JSON object.")
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                return _error(400, "InvalidRequest", f"Property '{name}' is required.")
        if body["resource"] not in RESOURCES:
            return _error(400, "InvalidRequest", f"Unsupported resource '{body['resource']}'.")
        if not set(str(body["changeType"]).split(",")) <= CHANGE_TYPES:
            return _error(400, "InvalidRequest", "changeType must be created, updated, deleted.")
        if len(body.get("clientState") or "") > 128:
            return _error(400, "InvalidRequest", "clientState is longer than 128 characters.")
        problem = self._expiry_problem(body["expirationDateTime"])
        if problem:
            return _error(400, "InvalidRequest", problem)
        for field in ("notificationUrl", "lifecycleNotificationUrl"):
            if body.get(field) and not _validated(body[field]):
                return _error(400, "ValidationError",
                              f"Subscription validation request failed. Notification endpoint "
                              f"must respond with 200 OK to validation request ({field}).")
        sub = {"id": str(uuid.uuid4()), "resource": body["resource"],
               "changeType": body["changeType"], "clientState": body.get("clientState"),
               "notificationUrl": body["notificationUrl"],
               "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
               "expirationDateTime": _iso(_parse(body["expirationDateTime"])),
               "tenantId": tenant, "applicationId": "sandbox-app"}
        with self._lock:
            self.items[sub["id"]] = sub
        return jsonify({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
                        **sub}), 201

    def renew(self, sub_id: str, body: Any):  # type: ignore[no-untyped-def]
        with self._lock:
            sub = self.items.get(sub_id)
        if sub is None:
            return _error(404, "ResourceNotFound", f"The object was not found: {sub_id}")
        expiry = body.get("expirationDateTime") if isinstance(body, dict) else None
        problem = self._expiry_problem(expiry)
        if problem:
            return _error(400, "InvalidRequest", problem)
        sub["expirationDateTime"] = _iso(_parse(expiry))
        return jsonify(sub)

    def remove(self, sub_id: str):  # type: ignore[no-untyped-def]
        with self._lock:
            found = self.items.pop(sub_id, None)
        return ("", 204) if found else _error(404, "ResourceNotFound", "The object was not found.")

    @staticmethod
    def _expiry_problem(value: Any) -> str | None:
        moment = _parse(value)
        now = datetime.now(UTC)
        if moment is None:
            return "expirationDateTime is not a valid ISO 8601 date-time."
        if moment <= now:
            return "Subscription expiration can only be in the future."
        if moment > now + timedelta(minutes=MAX_MINUTES):
            return (f"Subscription expiration can only be {MAX_MINUTES} minutes in the future "
                    "for this resource.")
        return None


def _validated(url: str) -> bool:
    """Graph's validation call: the token must come back as 200 text/plain, byte for byte."""
    token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
    try:
        r = requests.post(url, params={"validationToken": token}, timeout=VALIDATION_TIMEOUT,
                          headers={"Content-Type": "text/plain; charset=utf-8"})
    except requests.RequestException:
        return False
    return (r.status_code == 200 and r.headers.get("Content-Type", "").startswith("text/plain")
            and r.text == token)


def add_routes(app: Flask, subscriptions: GraphSubscriptions, tenant: str) -> None:
    """Mount /v1.0/subscriptions on the sandbox Graph app (its token guard applies)."""

    @app.post("/v1.0/subscriptions")
    def create_subscription():  # type: ignore[no-untyped-def]
        return subscriptions.create(request.get_json(silent=True), tenant)

    @app.get("/v1.0/subscriptions")
    def list_subscriptions():  # type: ignore[no-untyped-def]
        return jsonify(value=list(subscriptions.items.values()))

    @app.patch("/v1.0/subscriptions/<sub_id>")
    def renew_subscription(sub_id: str):  # type: ignore[no-untyped-def]
        return subscriptions.renew(sub_id, request.get_json(silent=True))

    @app.delete("/v1.0/subscriptions/<sub_id>")
    def delete_subscription(sub_id: str):  # type: ignore[no-untyped-def]
        return subscriptions.remove(sub_id)
