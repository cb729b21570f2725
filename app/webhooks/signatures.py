"""Signature checks of signed webhooks: Standard Webhooks and the Keycloak events extension.

Standard Webhooks (https://www.standardwebhooks.com, spec/standard-webhooks.md): the signed
content is `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 keyed with the base64-decoded
part of a `whsec_` secret; `webhook-signature` is a space-separated list of `v1,<base64>`
(several during a key rotation); the timestamp (integer seconds) must be within a tolerance
(5 minutes) of now. p2-inc/keycloak-events signs the raw body with the webhook's secret as
HMAC-SHA256 and sends the lowercase hex digest in `X-Keycloak-Signature`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
MAX_ID_LENGTH = 255


class SignatureRejected(Exception):
    """The delivery is not signed by the holder of the secret (or too old); the message says why."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret (its base64 part decoded)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a Standard Webhooks secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX):])


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value a sender computes (used by the sandbox and the tests)."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> str:
    """Check a Standard Webhooks delivery; returns its `webhook-id`, raises SignatureRejected."""
    message_id = headers.get("webhook-id") or ""
    stamp = headers.get("webhook-timestamp") or ""
    given = headers.get("webhook-signature") or ""
    if not message_id or not stamp or not given:
        raise SignatureRejected("missing webhook-id, webhook-timestamp or webhook-signature")
    if len(message_id) > MAX_ID_LENGTH:
        raise SignatureRejected("webhook-id is too long")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureRejected("webhook-timestamp is not a whole number of seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise SignatureRejected("webhook-timestamp is more than 5 minutes from now")
    expected = sign(secret, message_id, timestamp, body).split(",", 1)[1]
    for candidate in given.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return message_id
    raise SignatureRejected("no webhook-signature matches")


def keycloak_signature(secret: str, body: bytes) -> str:
    """The `X-Keycloak-Signature` of a body (hex HMAC-SHA256 keyed with the secret as text)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_keycloak(secret: str, header: str | None, body: bytes) -> None:
    """Check a p2-inc/keycloak-events delivery; raises SignatureRejected."""
    if not header:
        raise SignatureRejected("missing X-Keycloak-Signature")
    value = header.strip().lower()
    value = value.split("=", 1)[1] if value.startswith("sha256=") else value
    try:
        binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        raise SignatureRejected("X-Keycloak-Signature is not a hex digest") from None
    if not hmac.compare_digest(value, keycloak_signature(secret, body)):
        raise SignatureRejected("X-Keycloak-Signature does not match")


def same_secret(expected: str, given: str | None) -> bool:
    """Constant-time equality of a shared secret (Okta header, Graph clientState, Google token)."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
