"""`/healthz`: the database and Redis are reachable."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify
from sqlalchemy import text

from app import extensions

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)


def healthz():  # type: ignore[no-untyped-def]
    checks: dict[str, str] = {}
    try:
        with extensions.db.session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure is reported, not raised: this is a probe
        log.warning("health: database unreachable: %s", exc)
        checks["database"] = "unreachable"
    try:
        extensions.redis(current_app.config).ping()
        checks["redis"] = "ok"
    except Exception as exc:
        log.warning("health: redis unreachable: %s", exc)
        checks["redis"] = "unreachable"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "degraded", checks=checks), (200 if ok else 503)
