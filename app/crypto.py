"""Secrets at rest: a MultiFernet key ring (the first key encrypts, every key decrypts)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)


UNREADABLE = ("a stored secret cannot be decrypted with any key in USERSYNC_SECRET_KEYS (was the "
              "key that encrypted it removed? put it back, then run `usersync secrets rotate`)")


class SecretError(RuntimeError):
    """A stored secret cannot be decrypted with any key of the ring (wrong or removed key)."""

    def __init__(self, message: str = UNREADABLE):
        super().__init__(message)
        self.message = message


class KeyRingError(ValueError):
    """USERSYNC_SECRET_KEYS holds no key, or a value that is not a Fernet key."""


class KeyRing:
    """Encrypts and decrypts short secrets; `rotate` re-encrypts under the newest key."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise KeyRingError("the key ring needs at least one key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError) as exc:
            raise KeyRingError("USERSYNC_SECRET_KEYS holds a key that is not a Fernet key "
                               "(32 url-safe base64 bytes)") from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretError() from exc

    def rotate(self, token: str) -> str:
        """`token` re-encrypted under the first key; SecretError when no key decrypts it."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretError() from exc


def init_app(app: Any) -> None:
    """Answer a request that needs an undecryptable secret with a clear 503, not a 500."""
    from flask import jsonify

    def unreadable(error: SecretError):  # type: ignore[no-untyped-def]
        app.logger.error("secret unreadable on %s: %s", _path(), error.message)
        response = jsonify(error="this service cannot read a stored secret of this site; "
                                 "the operator has been told")
        response.status_code = 503
        return response

    app.register_error_handler(SecretError, unreadable)


def _path() -> str:
    from flask import request

    return request.path


def embedded_keys(instance_path: str) -> list[str]:
    """The development key, generated once into the instance folder (never for production)."""
    path = Path(instance_path) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
        log.warning("generated a secret key into %s: set USERSYNC_SECRET_KEYS in production", path)
    return [path.read_text().strip()]
