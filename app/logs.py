"""Structured logs: one JSON object per line, stamped with request id, tenant and job id."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from flask import Flask, g, request

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant: ContextVar[str | None] = ContextVar("tenant", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

# A Connect page load carries its tenant JWT in the query (`?jwt=…`), and so does the Referer of
# whatever that page requests next: a log line must never hold a usable token.
_JWT_PARAM = re.compile(r"((?:^|[?&;\s\"'])jwt=)[^&\s\"';]*", re.IGNORECASE)
_JWT_PARAM_ENCODED = re.compile(r"((?:%3F|%26)jwt%3D)(?:(?!%26)[^&\s\"'])*", re.IGNORECASE)
REDACTED = "[redacted]"


def scrub(text: str) -> str:
    """`text` with every `jwt=` query value (plain or percent-encoded) replaced by [redacted]."""
    if "jwt" not in text.lower():
        return text
    return _JWT_PARAM_ENCODED.sub(r"\1" + REDACTED, _JWT_PARAM.sub(r"\1" + REDACTED, text))


class ScrubFilter(logging.Filter):
    """Scrubs tokens from the formatted message of every record (werkzeug's request lines too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class ContextFilter(logging.Filter):
    """Adds the current request id, tenant (client key) and job id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.tenant = tenant.get()
        record.job_id = job_id.get()
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "tenant", "job_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup(level: str = "INFO", fmt: str = "json") -> None:
    """Configure the root logger once per process (web, worker, clock)."""
    root = logging.getLogger()
    if any(getattr(h, "_usersync", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._usersync = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.addFilter(ScrubFilter())
    handler.setFormatter(JSONFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(tenant)s %(job_id)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    setup(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])

    @app.before_request
    def _start() -> None:
        rid = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        g.request_id = rid
        g.request_token = request_id.set(rid)
        g.tenant_token = tenant.set(None)

    @app.after_request
    def _finish(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _reset(_exc: BaseException | None) -> None:
        if "request_token" in g:
            request_id.reset(g.request_token)
            tenant.reset(g.tenant_token)
