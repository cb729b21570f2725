"""Checks one request or response against its spec operation; returns readable violations."""

from __future__ import annotations

import json
from typing import Any

from .spec import Operation

ALWAYS_ALLOWED_QUERY = {"jwt"}
# Statuses any Atlassian endpoint can answer whether documented or not (gateway, limits).
GENERIC_STATUSES = {401, 429, 500, 502, 503, 504}
# The 2021 Confluence file documents few errors; the live API answers these for bad input.
UNDOCUMENTED_BUT_REAL = {"confluence": {400, 404}, "jira": set()}


def _coerce(raw: list[str], schema: dict[str, Any]) -> tuple[Any, str | None]:
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items", {})
        values = []
        for value in raw:
            coerced, err = _coerce([value], items)
            if err:
                return None, err
            values.append(coerced)
        return values, None
    value = raw[-1]
    if kind == "integer":
        try:
            return int(value), None
        except ValueError:
            return None, f"'{value}' is not an integer"
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            return None, f"'{value}' is not a boolean"
        return value.lower() == "true", None
    return value, None


def check_request(op: Operation, query: dict[str, list[str]], path_params: dict[str, str],
                  body: bytes, content_type: str) -> list[str]:
    """Violations of the operation's parameters and request body."""
    problems: list[str] = []
    declared = {(p.get("in"), p.get("name")) for p in op.parameters}
    for name in query:
        if ("query", name) not in declared and name not in ALWAYS_ALLOWED_QUERY:
            problems.append(f"unknown query parameter '{name}'")
    for param in op.parameters:
        where, name, schema = param.get("in"), param.get("name"), param.get("schema", {})
        source = query.get(name) if where == "query" else (
            [path_params[name]] if where == "path" and name in path_params else None)
        if where not in ("query", "path"):
            continue
        if not source:
            if param.get("required"):
                problems.append(f"missing required {where} parameter '{name}'")
            continue
        value, err = _coerce(source, schema)
        if err:
            problems.append(f"{where} parameter '{name}': {err}")
            continue
        problems += [f"{where} parameter '{name}': {e}" for e in op.spec.errors(schema, value)]
    return problems + _check_body(op, body, content_type)


def _check_body(op: Operation, body: bytes, content_type: str) -> list[str]:
    declared = op.raw.get("requestBody")
    if not body:
        return ["missing required request body"] if declared and declared.get(
            "required") else []
    if not declared:
        return ["request body sent to an operation that takes none"]
    schema = op.request_schema()
    if schema is None:
        return []
    if "json" not in content_type:
        return [f"request body must be application/json, not '{content_type}'"]
    return _json_errors(op, schema, body, "request body")


def check_response(op: Operation, status: int, body: bytes, content_type: str) -> list[str]:
    """Violations of the documented statuses and response schema."""
    documented, schema = op.response_schema(status)
    if not documented:
        if status in GENERIC_STATUSES | UNDOCUMENTED_BUT_REAL[op.spec.name]:
            return []
        return [f"status {status} is not documented for {op.key}"]
    if schema is None or not body:
        return []
    if "json" not in content_type:
        return [f"response body must be JSON, not '{content_type}'"]
    return _json_errors(op, schema, body, "response body")


def _json_errors(op: Operation, schema: Any, body: bytes, what: str) -> list[str]:
    """A JSON body's violations of `schema`, each prefixed with `what` it is."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        return [f"{what} is not JSON: {exc}"]
    return [f"{what} {e}" for e in op.spec.errors(schema, document)]
