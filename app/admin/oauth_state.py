"""The OAuth consent's `state`: encrypted with the key ring, naming the installation and the
admin who started it, and good for ten minutes."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from app import extensions
from app.crypto import SecretError

STATE_LIFETIME = 600.0


class BadState(ValueError):
    """The state was not made by us, or is too old."""


@dataclass(frozen=True, slots=True)
class ConsentState:
    installation_id: int
    account_id: str


def make(installation_id: int, account_id: str, now: float | None = None) -> str:
    payload = {"i": installation_id, "a": account_id, "t": time.time() if now is None else now,
               "n": secrets.token_urlsafe(8)}
    return extensions.secrets.encrypt(json.dumps(payload))


def read(state: str, now: float | None = None) -> ConsentState:
    try:
        payload = json.loads(extensions.secrets.decrypt(state))
        made, installation_id, account_id = float(payload["t"]), int(payload["i"]), str(payload["a"])
    except (SecretError, ValueError, KeyError, TypeError) as exc:
        raise BadState("the consent answer does not come from a consent this app started") from exc
    if (time.time() if now is None else now) - made > STATE_LIFETIME:
        raise BadState("the consent took longer than ten minutes: start it again from the admin page")
    return ConsentState(installation_id, account_id)
