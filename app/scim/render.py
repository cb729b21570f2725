"""Pieces every representation shares: meta, ETags, timestamps, list responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.scim.schemas import LIST_RESPONSE


def timestamp(value: datetime) -> str:
    """RFC 3339 in UTC; SQLite hands datetimes back without an offset, and they are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def etag(version: int) -> str:
    return f'W/"{version}"'


def meta(resource_type: str, row: Any, location: str) -> dict[str, Any]:
    return {"resourceType": resource_type, "created": timestamp(row.created_at),
            "lastModified": timestamp(row.last_modified), "location": location,
            "version": etag(row.version)}


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {"schemas": [LIST_RESPONSE], "totalResults": total, "itemsPerPage": len(resources),
            "startIndex": start, "Resources": resources}
