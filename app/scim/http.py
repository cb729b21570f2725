"""Request and response plumbing: JSON bodies with a size limit, SCIM content type, ETags, paging."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, request

from app.scim.errors import ScimError, invalid_syntax, invalid_value
from app.scim.render import etag
from app.scim.resource_types import MAX_RESULTS

CONTENT_TYPE = "application/scim+json"
ACCEPTED_TYPES = ("application/scim+json", "application/json")
# Big enough for a PUT of a group with ~20,000 members; anything larger is a 413.
MAX_BODY = 2 * 1024 * 1024


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, separators=(",", ":")), status=status,
                        content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(error: ScimError) -> Response:
    return respond(error.body(), error.status)


def json_body() -> Any:
    """The request's JSON; too large → 413, not JSON → 400 invalidSyntax (never a 500)."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise ScimError(413, f"the request body is larger than {MAX_BODY} bytes")
    mimetype = request.mimetype
    if mimetype and mimetype not in ACCEPTED_TYPES:
        raise ScimError(415, f"send {CONTENT_TYPE} or application/json, not {mimetype}")
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ScimError(413, f"the request body is larger than {MAX_BODY} bytes")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise invalid_syntax(f"the request body is not valid JSON: {exc}") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def check_if_match(version: int) -> None:
    """412 when the client holds a stale ETag (RFC 7644 §3.14)."""
    header = request.headers.get("If-Match")
    if not header:
        return
    wanted = {tag.strip() for tag in header.split(",")}
    current = etag(version)
    if "*" not in wanted and current not in wanted and current[2:] not in wanted:
        raise ScimError(412, "the resource changed since you read it (ETag mismatch)")


def not_modified(version: int) -> bool:
    header = request.headers.get("If-None-Match")
    return bool(header) and etag(version) in {tag.strip() for tag in header.split(",")}


@dataclass(frozen=True)
class ListParams:
    """A list or search request: from the query string (GET) or a SearchRequest body (POST)."""

    filter: str | None = None
    start: int = 1
    count: int = MAX_RESULTS
    sort_by: str | None = None
    sort_order: str | None = None
    attributes: str | None = None
    excluded: str | None = None


def _int(name: str, raw: Any, default: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise invalid_value(f"{name} must be an integer, not {raw!r}")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise invalid_value(f"{name} must be an integer, not {raw!r}") from None


def _text(name: str, raw: Any) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return ",".join(raw)
    raise invalid_value(f"{name} must be a string")


def list_params(source: dict[str, Any] | None = None) -> ListParams:
    """Paging per RFC 7644 §3.4.2.4: startIndex below 1 means 1, count is clamped to 0..max."""
    get = _getter(source)
    return ListParams(
        filter=_text("filter", get("filter")),
        start=max(_int("startIndex", get("startIndex"), 1), 1),
        count=min(max(_int("count", get("count"), MAX_RESULTS), 0), MAX_RESULTS),
        sort_by=_text("sortBy", get("sortBy")), sort_order=_text("sortOrder", get("sortOrder")),
        attributes=_text("attributes", get("attributes")),
        excluded=_text("excludedAttributes", get("excludedAttributes")))


def _getter(source: dict[str, Any] | None) -> Any:
    if source is None:
        return arg
    if not isinstance(source, dict):
        raise invalid_syntax("a search body must be a SearchRequest object")
    lowered = {k.lower(): v for k, v in source.items()}
    return lambda name: lowered.get(name.lower())


def arg(name: str) -> str | None:
    """A query parameter, its name matched case-insensitively (clients differ)."""
    lowered = name.lower()
    return next((v for k, v in request.args.items() if k.lower() == lowered), None)
