"""Request size limits: one for the whole app (MAX_CONTENT_LENGTH), smaller ones per route."""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.scim.http import MAX_BODY as SCIM_MAX_BODY

# A lifecycle payload is about 1 KB of tenant facts; an Atlassian user webhook about as much.
LIFECYCLE_MAX_BYTES = 16 * 1024
WEBHOOK_MAX_BYTES = 64 * 1024
# SCIM answers its own RFC 7644 413 at SCIM_MAX_BODY; one byte more lets it see the overflow.
SCIM_READ_LIMIT = SCIM_MAX_BODY + 1


def route_limit(endpoint: str | None, blueprint: str | None) -> int | None:
    """The body limit of a route, or None for the app-wide MAX_CONTENT_LENGTH."""
    if endpoint == "connect.lifecycle":
        return LIFECYCLE_MAX_BYTES
    if endpoint == "connect.atlassian_webhook" or (blueprint or "").startswith("webhooks"):
        return WEBHOOK_MAX_BYTES
    if blueprint == "scim":
        return SCIM_READ_LIMIT
    return None


def too_large(limit: int):  # type: ignore[no-untyped-def]
    response = jsonify(error=f"the request body is larger than {limit} bytes")
    response.status_code = 413
    return response


def init_app(app: Flask) -> None:
    @app.before_request
    def _limit_body():  # type: ignore[no-untyped-def]
        limit = route_limit(request.endpoint, request.blueprint)
        if limit is not None:
            # applies to every read of the body, chunked uploads included
            request.max_content_length = limit
        if request.blueprint == "scim":
            return None  # SCIM answers its own 413 in its own error format
        effective = request.max_content_length
        if effective is not None and (request.content_length or 0) > effective:
            return too_large(effective)  # refused before any token check or body read
        return None

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
        return too_large(request.max_content_length or app.config["MAX_CONTENT_LENGTH"])
