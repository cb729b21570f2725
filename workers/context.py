"""Worker-process bootstrap: configuration, database, key ring and Redis, set up once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from redis import Redis

from app import config as app_config
from app import extensions, logs
from workers.atlassian.factory import ClientSettings, site_for_installation
from workers.sync.engine import Environment


@lru_cache(maxsize=1)
def settings() -> dict[str, Any]:
    """The worker's set-up, once per process: settings read and checked, logs, database, key
    ring; the typed object is `cfg["SETTINGS"]` (and `app.settings.current()`)."""
    cfg = app_config.load()
    logs.setup(cfg["LOG_LEVEL"], cfg["LOG_FORMAT"])
    cfg["SETTINGS"] = extensions.configure(cfg)
    return cfg


def redis() -> Redis:
    return extensions.redis(settings())


def environment(read_only: bool = False) -> Environment:
    """The production wiring: the installation's site client built from stored credentials;
    `read_only` for a dry run, whose site client refuses every write in its HTTP layer."""
    cfg = settings()
    client_settings = ClientSettings.from_settings(cfg["SETTINGS"])

    def target_for(installation_id: int):  # type: ignore[no-untyped-def]
        return site_for_installation(installation_id, db=extensions.db, settings=client_settings,
                                     encrypt=extensions.secrets.encrypt,
                                     decrypt=extensions.secrets.decrypt, redis=redis(),
                                     read_only=read_only)

    return Environment(db=extensions.db, target_for=target_for, decrypt=extensions.secrets.decrypt,
                       allow_private=cfg["ALLOW_PRIVATE_URLS"], concurrency=client_settings.concurrency)
