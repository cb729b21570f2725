"""Configuration: defaults, production fail-fast, and the README documenting every setting."""

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app import config


def test_development_defaults(tmp_path):
    cfg = config.load({"USERSYNC_INSTANCE_PATH": str(tmp_path)})
    assert cfg["USERSYNC_ENV"] == "development"
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'usersync.db'}"
    assert cfg["REDIS_URL"] == "" and cfg["SECRET_KEYS"] == []
    assert cfg["ALLOW_PRIVATE_URLS"] is False
    assert cfg["INSTALL_KEYS_URL"] == "https://connect-install-keys.atlassian.com/"


def test_production_requires_its_settings():
    with pytest.raises(config.ConfigError) as err:
        config.load({"USERSYNC_ENV": "production"})
    for name in ("DATABASE_URL", "REDIS_URL", "USERSYNC_BASE_URL", "USERSYNC_SECRET_KEYS"):
        assert name in str(err.value)


def test_production_requires_https_base_url():
    env = {"USERSYNC_ENV": "production", "DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://r",
           "USERSYNC_BASE_URL": "http://plain.example", "USERSYNC_SECRET_KEYS": Fernet.generate_key().decode()}
    with pytest.raises(config.ConfigError, match="https"):
        config.load(env)
    env["USERSYNC_BASE_URL"] = "https://sync.example/"
    cfg = config.load(env)
    assert cfg["BASE_URL"] == "https://sync.example" and len(cfg["SECRET_KEYS"]) == 1


def test_unknown_mode_is_refused():
    with pytest.raises(config.ConfigError, match="USERSYNC_ENV"):
        config.load({"USERSYNC_ENV": "staging"})


def test_create_app_fails_fast_in_production(monkeypatch):
    from app import create_app

    monkeypatch.setenv("USERSYNC_ENV", "production")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(config.ConfigError):
        create_app()


def test_readme_documents_every_setting():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for setting in config.SETTINGS:
        assert f"`{setting.name}`" in readme, setting.name
