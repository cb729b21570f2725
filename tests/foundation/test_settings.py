"""One settings object, read once: every documented setting in it, nothing else reads the environment."""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields
from pathlib import Path

import pytest

from app import config
from app.settings import FLASK_KEYS, Settings
from workers.atlassian.factory import ClientSettings
from workers.atlassian.site import AtlassianSite
from workers.sync import engine

ROOT = Path(__file__).resolve().parents[2]
# The launcher composes its children's environment; requests' own CA-bundle and proxy
# variables are the HTTP library's convention, not settings of ours.
MAY_READ_THE_ENVIRONMENT = {"app/config.py", "app/devserver.py", "workers/sources/http.py"}


def _settings(tmp_path, **env: str) -> Settings:  # type: ignore[no-untyped-def]
    return Settings.from_flask_config(config.load({"USERSYNC_INSTANCE_PATH": str(tmp_path), **env}))


def test_every_row_of_the_table_is_a_field() -> None:
    names = {f.name for f in fields(Settings)}
    assert {s.name.removeprefix("USERSYNC_").lower() for s in config.SETTINGS} == names
    assert set(FLASK_KEYS.values()) == names


def test_the_values_are_typed_and_checked_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = _settings(tmp_path, USERSYNC_ATLASSIAN_TENANT_SHARE="0.5", PORT="9000",
                  USERSYNC_OAUTH_CLIENT_ID="cid", USERSYNC_SYNC_LOCK_TTL="7")
    assert (s.atlassian_tenant_share, s.port, s.sync_lock_ttl) == (0.5, 9000, 7)
    client = ClientSettings.from_settings(s)
    assert client.oauth_app is not None and client.oauth_app.client_id == "cid"
    assert client.tenant_share == 0.5 and client.hosts.api_base == "https://api.atlassian.com"
    for name, bad in (("USERSYNC_ATLASSIAN_TENANT_SHARE", "most"),
                      ("USERSYNC_ATLASSIAN_TENANT_SHARE", "2"),
                      ("USERSYNC_ATLASSIAN_CONCURRENCY", "0")):
        with pytest.raises(config.ConfigError, match=name):
            _settings(tmp_path, **{name: bad})


def test_one_default_for_the_concurrency(tmp_path) -> None:  # type: ignore[no-untyped-def]
    default = _settings(tmp_path).atlassian_concurrency
    assert default == config.DEFAULT_CONCURRENCY
    assert ClientSettings(app_key="k").concurrency == default
    assert engine.Environment.__dataclass_fields__["concurrency"].default == default
    assert inspect.signature(AtlassianSite).parameters["concurrency"].default == default


def test_the_app_holds_the_object_with_a_tests_overrides(app) -> None:  # type: ignore[no-untyped-def]
    settings = app.config["SETTINGS"]
    assert isinstance(settings, Settings) and settings.allow_private_urls is True
    assert settings.base_url == app.config["BASE_URL"]


def test_nothing_else_reads_the_environment() -> None:
    readers = set()
    for path in [*ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("workers").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.add(str(path.relative_to(ROOT)))
    assert readers <= MAY_READ_THE_ENVIRONMENT, sorted(readers - MAY_READ_THE_ENVIRONMENT)
