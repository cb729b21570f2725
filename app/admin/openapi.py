"""The admin API as OpenAPI 3, generated from the `@operation` declarations and their schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask
from werkzeug.routing import IntegerConverter

from app.admin.api import Operation, bp, operations
from app.admin.schemas.common import ErrorAnswer

ERROR_TEXT = {400: "Invalid fields (see error.fields)", 401: "Missing or bad token",
              403: "Not a site administrator", 404: "Not found (or another site's)",
              409: "Not possible in the object's current state", 415: "Body is not JSON",
              502: "The IdP or Atlassian answered wrongly", 503: "Queue or site unreachable"}
COMMON_ERRORS = (401, 403)


def _schema_name(resolver_schema: Any) -> str:
    cls = resolver_schema if isinstance(resolver_schema, type) else type(resolver_schema)
    name = cls.__name__
    modifiers = []
    if not isinstance(resolver_schema, type):
        for attr in ("only", "exclude", "load_only", "dump_only", "partial"):
            if getattr(resolver_schema, attr, None):
                modifiers.append(attr)
    return name + ("".join(m.title() for m in modifiers) if modifiers else "")


def _path_parameters(app: Flask, op: Operation) -> list[dict[str, Any]]:
    rule = app.url_map._rules_by_endpoint[f"{bp.name}.{op.endpoint}"][0]
    params = []
    for name, converter in rule._converters.items():
        schema: dict[str, Any] = {"type": "string"}
        if isinstance(converter, IntegerConverter):
            schema = {"type": "integer", "minimum": 0}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _operation(app: Flask, op: Operation) -> dict[str, Any]:
    body: dict[str, Any] = {"summary": op.summary, "tags": [op.tag],
                            "operationId": op.endpoint, "parameters": _path_parameters(app, op)}
    if op.query is not None:
        body["parameters"].append({"in": "query", "schema": op.query})
    if op.body is not None:
        body["requestBody"] = {"required": not getattr(op.body, "optional_body", False),
                               "content": {"application/json": {"schema": op.body}}}
    if op.status == 204 or (op.answer is None and op.produces == ("application/json",)
                            and op.method == "delete"):
        ok: dict[str, Any] = {"description": "Done"}
        status = 204
    elif op.answer is not None:
        ok = {"description": "Success", "content": {op.produces[0]: {"schema": op.answer}}}
        status = op.status
    else:
        ok = {"description": "Success (streamed download)",
              "content": {mime: {"schema": {"type": "string"} if mime != "application/json"
                                 else {"type": "array", "items": {"type": "object"}}}
                          for mime in op.produces}}
        status = op.status
    responses: dict[str, Any] = {str(status): ok}
    errors = () if op.public else COMMON_ERRORS
    for code in sorted({*errors, *op.errors, *((400,) if op.query or op.body else ()),
                        *((415,) if op.body else ())}):
        responses[str(code)] = {"description": ERROR_TEXT.get(code, "Error"),
                                "content": {"application/json": {"schema": ErrorAnswer}}}
    body["responses"] = responses
    if not op.public:
        body["security"] = [{"connectJwt": []}]
    return body


def build(app: Flask) -> dict[str, Any]:
    spec = APISpec(title="User & Group Sync admin API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[FlaskPlugin(), MarshmallowPlugin(schema_name_resolver=_schema_name)],
                   info={"description": "The JSON API behind the admin page. See "
                                        "app/admin/README.md for auth and conventions."},
                   servers=[{"url": app.config.get("BASE_URL", "") or "/"}])
    spec.components.security_scheme("connectJwt", {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "`JWT <Connect context token>` (or `Bearer <Forge Invocation Token>`)"})
    for op in operations:
        view = app.view_functions[f"{bp.name}.{op.endpoint}"]
        spec.path(view=view, operations={op.method: _operation(app, op)}, app=app)
    return spec.to_dict()
