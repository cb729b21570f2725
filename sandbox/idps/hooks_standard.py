"""A sender of signed webhooks, as a custom IdP or the Keycloak events extension sends them.

Standard Webhooks (www.standardwebhooks.com): headers webhook-id, webhook-timestamp (seconds)
and webhook-signature `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the base64
part of a `whsec_` secret. p2-inc/keycloak-events: `X-Keycloak-Signature` = hex HMAC-SHA256 of
the body keyed with the secret's text. (The sandbox imports nothing from the app: this is the
sender's side, written from the specifications.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class SignedSender:
    """Posts signed events to one URL; remembers each delivery's status."""

    url: str
    secret: str
    timeout: float = 10.0
    statuses: list[int] = field(default_factory=list)

    def standard(self, event_type: str, data: dict[str, Any], message_id: str | None = None) -> int:
        body = json.dumps({"type": event_type, "timestamp": _now_iso(), "data": data}).encode()
        message_id = message_id or f"msg_{uuid.uuid4().hex}"
        stamp = int(time.time())
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        digest = hmac.new(key, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        headers = {"webhook-id": message_id, "webhook-timestamp": str(stamp),
                   "webhook-signature": "v1," + base64.b64encode(digest).decode(),
                   "Content-Type": "application/json"}
        return self._post(body, headers)

    def keycloak(self, event: dict[str, Any]) -> int:
        body = json.dumps({"time": int(time.time() * 1000), "uid": str(uuid.uuid4()), **event}).encode()
        signature = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return self._post(body, {"X-Keycloak-Signature": signature,
                                 "Content-Type": "application/json"})

    def _post(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            status = requests.post(self.url, data=body, headers=headers, timeout=self.timeout).status_code
        except requests.RequestException:
            status = 0
        self.statuses.append(status)
        return status


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
