"""The one settings object: every setting of the README's table, typed, read once per process.

`app.config.load()` reads and checks the environment; `create_app` and the worker's set-up
(`workers.context`) call it once and hand the result to `extensions.configure`, which
installs it here. Code without a Flask app at hand (the worker, a source reading a file)
asks `current()`; nothing else reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    """Each field is one row of the README's settings table (its Flask config key in
    `FLASK_KEYS`); defaults are applied and values checked by `app.config.load`."""

    env: str
    instance_path: str
    database_url: str
    redis_url: str
    base_url: str
    app_key: str
    secret_keys: tuple[str, ...]
    install_keys_url: str
    allow_private_urls: bool
    jwt_leeway: int
    jwt_max_lifetime: int
    atlassian_domains: tuple[str, ...] | None
    max_request_bytes: int
    uninstalled_retention_days: int
    log_level: str
    log_format: str
    port: int
    atlassian_api_url: str
    atlassian_auth_url: str
    oauth_client_id: str
    oauth_client_secret: str
    oauth_redirect_uri: str
    atlassian_concurrency: int
    atlassian_points_per_hour: int
    atlassian_tenant_share: float
    sync_lock_ttl: int
    bulk_memberships: int
    full_fetch_max_age_hours: int
    forge_jwks_url: str
    forge_app_id: str
    directory_files_dir: str | None
    directory_file_max_mb: int

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_flask_config(cls, config: Mapping[str, Any]) -> Settings:
        """The object of a Flask config dict (what `load()` made, with a test's overrides)."""
        missing = [key for key in FLASK_KEYS if key not in config]
        if missing:  # a hand-made dict, not app.config.load()'s: say what it lacks
            raise ValueError("not a complete settings dict (see app.config.load); missing "
                             + ", ".join(missing))
        values = {name: config[key] for key, name in FLASK_KEYS.items()}
        values["secret_keys"] = tuple(values["secret_keys"] or ())
        domains = values["atlassian_domains"]
        values["atlassian_domains"] = tuple(domains) if domains is not None else None
        return cls(**values)


FLASK_KEYS: dict[str, str] = {
    "USERSYNC_ENV": "env", "INSTANCE_PATH": "instance_path", "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url", "BASE_URL": "base_url", "APP_KEY": "app_key",
    "SECRET_KEYS": "secret_keys", "INSTALL_KEYS_URL": "install_keys_url",
    "ALLOW_PRIVATE_URLS": "allow_private_urls", "JWT_LEEWAY": "jwt_leeway",
    "JWT_MAX_LIFETIME": "jwt_max_lifetime", "ATLASSIAN_DOMAINS": "atlassian_domains",
    "MAX_CONTENT_LENGTH": "max_request_bytes",
    "UNINSTALLED_RETENTION_DAYS": "uninstalled_retention_days", "LOG_LEVEL": "log_level",
    "LOG_FORMAT": "log_format", "PORT": "port", "ATLASSIAN_API_URL": "atlassian_api_url",
    "ATLASSIAN_AUTH_URL": "atlassian_auth_url", "OAUTH_CLIENT_ID": "oauth_client_id",
    "OAUTH_CLIENT_SECRET": "oauth_client_secret", "OAUTH_REDIRECT_URI": "oauth_redirect_uri",
    "ATLASSIAN_CONCURRENCY": "atlassian_concurrency",
    "ATLASSIAN_POINTS_PER_HOUR": "atlassian_points_per_hour",
    "ATLASSIAN_TENANT_SHARE": "atlassian_tenant_share", "SYNC_LOCK_TTL": "sync_lock_ttl",
    "BULK_MEMBERSHIPS": "bulk_memberships",
    "FULL_FETCH_MAX_AGE_HOURS": "full_fetch_max_age_hours", "FORGE_JWKS_URL": "forge_jwks_url",
    "FORGE_APP_ID": "forge_app_id", "DIRECTORY_FILES_DIR": "directory_files_dir",
    "DIRECTORY_FILE_MAX_MB": "directory_file_max_mb",
}
"""Flask config key → Settings field (Flask's own keys, such as MAX_CONTENT_LENGTH, kept)."""

_current: Settings | None = None


def install(settings: Settings | None) -> Settings | None:
    """Make `settings` this process's settings (called by `extensions.configure`); returns
    the ones it replaces (None: none yet), so a test can put them back."""
    global _current
    previous, _current = _current, settings
    return previous


def current() -> Settings:
    """This process's settings; read from the environment once if no set-up ran yet (a
    one-off script), so a caller never sees a half-configured process."""
    if _current is None:
        from app import config

        settings = Settings.from_flask_config(config.load())
        install(settings)
        return settings
    return _current
