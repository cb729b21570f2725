"""/healthz, structured logs, and the migration chain on the configured database."""

import json
import logging

from sqlalchemy import inspect

from app import create_app, logs, migrate
from app.db import make_engine


def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_reports_unreachable_redis(test_config):
    test_config["REDIS_URL"] = "redis://127.0.0.1:9/0"
    r = create_app(test_config).test_client().get("/healthz")
    assert r.status_code == 503 and r.json["checks"]["redis"] == "unreachable"


def test_request_id_is_echoed(client):
    r = client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert r.headers["X-Request-Id"] == "abc123"


def test_json_log_lines_carry_request_and_tenant():
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    token_r, token_t = logs.request_id.set("req-1"), logs.tenant.set("client-a")
    try:
        logs.ContextFilter().filter(record)
        line = json.loads(logs.JSONFormatter().format(record))
    finally:
        logs.request_id.reset(token_r)
        logs.tenant.reset(token_t)
    assert line["msg"] == "hello x" and line["request_id"] == "req-1" and line["tenant"] == "client-a"


def test_migrations_reach_every_model_table(database_url):
    from app.db import Base

    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_fresh_database_upgrade_downgrade_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'chain.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrate.upgrade(url)
