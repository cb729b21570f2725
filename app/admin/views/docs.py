"""`GET /api/admin/openapi.json`: the API description, made once per process."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from app.admin.api import Context, operation

EXTENSION = "usersync-admin-openapi"


@operation("/openapi.json", "GET", summary="This API as OpenAPI 3", tag="docs", public=True)
def openapi_document(ctx: Context):  # type: ignore[no-untyped-def]
    from app.admin.openapi import build

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    document: dict[str, Any] | None = app.extensions.get(EXTENSION)
    if document is None:
        document = app.extensions[EXTENSION] = build(app)
    return jsonify(document)
