"""Migration 0004 creates and drops exactly the SCIM tables, and matches the models; 0010 re-keys
userNames without losing a row."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

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


def test_0010_rekeys_user_names_and_keeps_every_duplicate(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'rekey.db'}"
    migrate.upgrade(url, "0010-1")
    engine = make_engine(url)
    names = ["Bob", " bob ", "José", "Jose\u0301", "STRASSE", "Straße", "alice", " Carol", "Carol "]
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO installation (id, client_key, product_type, base_url,"
            " shared_secret_encrypted, state, installed_at, updated_at)"
            " VALUES (1, 'k', 'jira', 'https://x', 's', 'enabled', '2026-01-01', '2026-01-01')"))
        connection.execute(text(
            "INSERT INTO connection (id, installation_id, name, kind, enabled, settings,"
            " mapping_mode, mapping, filters, default_groups, deprovision, policy,"
            " pending_changes, created_at, updated_at) VALUES (1, 1, 'c', 'scim', 1, '{}',"
            " 'on_the_fly', '{}', '{}', '[]', 'remove_from_groups', '{}', 0,"
            " '2026-01-01', '2026-01-01')"))
        for pk, name in enumerate(names, start=1):
            connection.execute(text(
                "INSERT INTO scim_user (pk, scim_id, connection_id, user_name, user_name_key,"
                " active, document, version, created_at, last_modified) VALUES (:pk, :id, 1,"
                " :name, :key, 1, '{}', 1, '2026-01-01', '2026-01-01')"),
                {"pk": pk, "id": f"id{pk}", "name": name, "key": name.lower()})
    migrate.upgrade(url, "0010")
    with engine.connect() as connection:
        keys = dict(connection.execute(text("SELECT user_name, user_name_key FROM scim_user")).all())
    # "bob" already was Bob's key, so " bob " keeps its old one; of two Carols the oldest wins.
    assert keys == {"Bob": "bob", " bob ": " bob ", "José": "josé", "Jose\u0301": "jose\u0301",
                    "STRASSE": "strasse", "Straße": "straße", "alice": "alice",
                    " Carol": "carol", "Carol ": "carol "}
    migrate.downgrade(url, "0010-1")
    with engine.connect() as connection:
        keys = dict(connection.execute(text("SELECT user_name, user_name_key FROM scim_user")).all())
    engine.dispose()
    assert keys == {name: name.lower() for name in names}
