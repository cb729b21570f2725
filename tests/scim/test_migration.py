"""Migration 0004 creates and drops exactly the SCIM tables, and matches the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import migrate
from app.db import Base, make_engine

TABLES = ["scim_endpoint", "scim_group", "scim_member", "scim_token", "scim_user",
          "scim_user_email"]


def scim_tables(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return sorted(t for t in inspect(engine).get_table_names() if t.startswith("scim_"))
    finally:
        engine.dispose()


def test_upgrade_matches_models_and_downgrade_removes_the_branch(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'migrations.db'}"
    migrate.upgrade(url)
    assert scim_tables(url) == TABLES
    engine = make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata) if "scim" in repr(d)]
    engine.dispose()
    assert differences == []
    command.downgrade(migrate.alembic_config(url), "0004@0002")
    assert scim_tables(url) == []
    assert "connection" in inspect(make_engine(url)).get_table_names()
