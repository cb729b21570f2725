"""SQLAlchemy 2 engine and sessions, unbound until configured (no connection at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; constraint names fixed so migrations agree on every database."""

    metadata = MetaData(naming_convention=NAMING)


def normalise_url(url: str) -> str:
    """Accept the `postgres://` and `postgresql://` forms hosts hand out; use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process read while a worker writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """One engine and session factory; `configure(url)` binds it, `session()` is a unit of work."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self.url: str | None = None

    def configure(self, url: str) -> Database:
        if self.url == normalise_url(url) and self.engine is not None:
            return self
        if self.engine is not None:
            self.engine.dispose()
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        return self

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Commit on success, roll back on error, always close."""
        if self._factory is None:
            raise RuntimeError("the database is not configured")
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A plain connection for a read of a few columns on a hot path (no ORM unit of work,
        which costs more than the query); rolled back when it closes."""
        if self.engine is None:
            raise RuntimeError("the database is not configured")
        with self.engine.connect() as connection:
            yield connection


def raw_rows(session: Session, query: Any) -> list[tuple]:
    """The rows of a Core select as the driver hands them over (plain tuples), through the
    session's connection: SQLAlchemy's work for each row costs more than the query itself
    at ten thousand rows. Columns come untyped: a SQLite boolean is 0 or 1, so callers
    read one by its truth, or None, never by identity with True."""
    return session.connection().execute(query).cursor.fetchall()
