"""The admin API's one error shape: `{"error": {code, message, fields?}}`, for every failure."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
PREFIX = "/api/admin/"

CODES = {400: "validation", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large",
         415: "unsupported_media_type", 502: "bad_gateway", 503: "unavailable"}


class ApiError(Exception):
    """An answer other than success; `fields` maps dotted field paths to messages."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or CODES.get(status, "error")
        self.fields = fields


def not_found(what: str = "object") -> ApiError:
    # Someone else's object is answered exactly like a missing one: no hint that it exists.
    return ApiError(404, f"No such {what}.")


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def validation(fields: dict[str, list[str]], message: str = "The request has invalid fields.") -> ApiError:
    return ApiError(400, message, "validation", fields)


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as dotted paths: {"settings": {"url": [..]}} → settings.url."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema" and prefix:
                path = prefix
            out.update(_merge(out, flatten(value, path)))
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            out[prefix or "_body"] = [str(m) for m in messages]
        else:
            for item in messages:
                out.update(_merge(out, flatten(item, prefix)))
    else:
        out[prefix or "_body"] = [str(messages)]
    return out


def _merge(into: dict[str, list[str]], more: dict[str, list[str]]) -> dict[str, list[str]]:
    return {key: into.get(key, []) + value for key, value in more.items()}


def from_validation(exc: ValidationError, prefix: str = "") -> ApiError:
    return validation(flatten(exc.messages, prefix))


def answer(error: ApiError) -> Response:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.fields is not None:
        body["fields"] = error.fields
    response = jsonify(error=body)
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'JWT realm="atlassian-connect"'
    return response


def init_app(app: Flask) -> None:
    """Errors under /api/admin/ answer JSON; elsewhere Flask's own pages are left alone."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        return answer(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not request.path.startswith(PREFIX):
            return exc
        return http_error(exc)


def http_error(exc: HTTPException) -> Response:
    return answer(ApiError(exc.code or 500, exc.description or exc.name))


def unexpected(exc: Exception) -> Response:
    """Anything a view did not foresee: logged with its traceback, answered without one."""
    if isinstance(exc, ApiError):
        return answer(exc)
    if isinstance(exc, HTTPException):
        return http_error(exc)
    log.exception("admin API request %s %s failed", request.method, request.path)
    return answer(ApiError(500, "Something went wrong on our side; it has been logged.",
                           "internal"))
