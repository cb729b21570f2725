"""Migration 0021: links are found by Atlassian id through an index the model declares too,
and a Change row no longer keeps an index that another one leads with."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app import extensions, migrate
from app.db import Base, make_engine
from app.models import Link
from tests.sync import rows

INDEX = "ix_link_connection_kind_atlassian"


def _indexes(url: str, table: str = "link") -> dict[str, list[str]]:
    engine = make_engine(url)
    try:
        return {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_0021_adds_the_index_the_model_declares_and_takes_it_back(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'links.db'}"
    migrate.upgrade(url, "0021")
    assert _indexes(url)[INDEX] == ["connection_id", "kind", "atlassian_id"]
    assert set(_indexes(url, "change")) == {"ix_change_run_id_id", "ix_change_run_id_outcome_id"}
    engine = make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = [d for d in compare_metadata(context, Base.metadata)
                       if any(name in repr(d) for name in ("<link>", "<change>", "'link'",
                                                           "'change'", INDEX))]
    engine.dispose()
    assert differences == []
    migrate.downgrade(url, "0020")
    assert INDEX not in _indexes(url)
    assert _indexes(url, "change")["ix_change_run_id"] == ["run_id"]


def test_a_search_by_atlassian_id_uses_the_index(app) -> None:  # type: ignore[no-untyped-def]
    """The link store's forget, suspension and save look links up by Atlassian id. The table
    holds enough links, half of them suspended, for the planner to weigh the indexes on it."""
    with extensions.db.session() as s:
        cid = rows.connection(s, "explain").id
        s.add_all(Link(connection_id=cid, kind="user", idp_id=f"u{n}", atlassian_id=f"a{n}",
                       suspended=n % 2 == 0) for n in range(2000))
    query = f"SELECT id FROM link WHERE connection_id = {cid} AND kind = 'user' AND atlassian_id = 'a1'"
    engine = extensions.db.engine
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("ANALYZE"))
            plan = " ".join(str(row[-1]) for row in connection.execute(
                text("EXPLAIN QUERY PLAN " + query)))
        else:
            connection.execute(text("ANALYZE link"))
            plan = " ".join(row[0] for row in connection.execute(text("EXPLAIN " + query)))
    assert INDEX in plan, plan
