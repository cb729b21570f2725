"""A run's changes as a streamed CSV or JSON download, read a batch at a time by keyset."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from flask import Response

from app import extensions

BATCH = 2000
COLUMNS = ("id", "seq", "kind", "group_id", "group_name", "account_id", "idp_user_id", "email",
           "before", "after", "outcome", "message", "at")
# A cell starting with one of these is a formula to a spreadsheet; IdP data must stay text.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _rows(run_id: int, kind: str | None, outcome: str | None) -> Iterator[dict[str, Any]]:
    from app.admin.views.runs import change_row, changes_query

    after: int | None = None
    while True:
        with extensions.db.session() as session:
            batch = [change_row(c) for c in session.scalars(
                changes_query(run_id, kind, outcome, after).limit(BATCH))]
        if not batch:
            return
        yield from batch
        after = batch[-1]["id"]
        if len(batch) < BATCH:
            return


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(row[c]) for c in COLUMNS])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for n, row in enumerate(rows):
        out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        yield ("," if n else "") + json.dumps(out, separators=(",", ":"))
    yield "]\n"


def _filename(connection_name: str, run_id: int, fmt: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", connection_name).strip("-")[:40] or "connection"
    return f"{slug}-run-{run_id}-changes.{fmt}"


def stream(run_id: int, fmt: str, kind: str | None, outcome: str | None,
           connection_name: str) -> Response:
    rows = _rows(run_id, kind, outcome)
    body = _csv(rows) if fmt == "csv" else _json(rows)
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    # The generator needs no request context (the database handle is process-wide), so the
    # rows stream after the view returned without holding the request open twice.
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_filename(connection_name, run_id, fmt)}"')
    response.headers["Cache-Control"] = "no-store"
    return response
