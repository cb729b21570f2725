"""`@operation`: one declaration per admin API route: its schemas validate the request, shape
the answer and document it in the OpenAPI file."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, ValidationError

from app.admin import caller as callers
from app.admin.errors import ApiError, flatten, unexpected, validation

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")
bp.register_error_handler(Exception, unexpected)
MAX_BODY = 1_000_000  # settings, mappings and policies are small; refuse anything absurd


@dataclass(slots=True)
class Context:
    """What a view receives: the checked caller, the loaded body and query, the path values."""

    caller: callers.Caller | None
    body: Any = None
    query: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Operation:
    """One route as the OpenAPI file describes it."""

    endpoint: str
    rule: str
    method: str
    summary: str
    tag: str
    body: type[Schema] | None
    query: type[Schema] | None
    answer: type[Schema] | None
    status: int
    public: bool
    produces: tuple[str, ...]
    errors: tuple[int, ...]


operations: list[Operation] = []


def _load_body(schema: type[Schema]) -> Any:
    if request.content_length and request.content_length > MAX_BODY:
        raise ApiError(413, "the request body is too large")
    if getattr(schema, "optional_body", False) and not request.get_data():
        return schema().load({})  # a body whose every field has a default may be left out
    if not request.is_json:
        raise ApiError(415, "send the body as JSON (Content-Type: application/json)")
    data = request.get_json(silent=True)
    if data is None:
        raise validation({"_body": ["The body is not valid JSON."]})
    try:
        return schema().load(data)
    except ValidationError as exc:
        raise validation(flatten(exc.messages)) from None


def _load_query(schema: type[Schema]) -> dict[str, Any]:
    declared = schema._declared_fields
    raw = {name: request.args.get(name) for name in declared if name in request.args}
    try:
        return schema().load(raw)
    except ValidationError as exc:
        raise validation(flatten(exc.messages, "query")) from None


def operation(rule: str, method: str, *, summary: str, tag: str,
              body: type[Schema] | None = None, query: type[Schema] | None = None,
              answer: type[Schema] | None = None, status: int = 200, public: bool = False,
              produces: tuple[str, ...] = ("application/json",),
              errors: tuple[int, ...] = (), dump: bool = True) -> Callable:
    """Register `view(ctx, **path_values)` at `rule`; a dict it returns is dumped by `answer`
    (with `dump=False` the view returns JSON-ready data and `answer` only documents it)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def handler(**path_values: Any) -> Any:
            who = None if public else callers.require_admin()
            ctx = Context(who)
            if query is not None:
                ctx.query = _load_query(query)
            if body is not None:
                ctx.body = _load_body(body)
            result = view(ctx, **path_values)
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(status=204)
            if dump:
                response = jsonify(answer().dump(result) if answer is not None else result)
            else:
                # JSON-ready already: skip the schema dump and Flask's key sorting (big answers).
                response = Response(json.dumps(result, separators=(",", ":")),
                                    mimetype="application/json")
            response.status_code = status
            response.headers["Cache-Control"] = "no-store"
            return response

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=handler, methods=[method])
        operations.append(Operation(view.__name__, rule, method.lower(), summary, tag, body, query,
                                    answer, status, public, produces, errors))
        return handler

    return decorate
