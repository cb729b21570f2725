"""Alembic environment: the URL comes from the caller (app.migrate) or DATABASE_URL."""

from __future__ import annotations

from alembic import context

import app.models  # noqa: F401  (registers every table on the metadata)
from app import config as app_config
from app.db import Base, make_engine

cfg = context.config
url = cfg.get_main_option("sqlalchemy.url") or app_config.load()["DATABASE_URL"]


def run() -> None:
    connectable = cfg.attributes.get("connection")
    if connectable is not None:
        _migrate(connectable)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _migrate(connection)
    engine.dispose()


def _migrate(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run()
