"""Opaque keyset cursors: the last id a page showed, so the next page starts after it."""

from __future__ import annotations

import base64

from app.admin.errors import validation

MAX_POSITION = 2**63 - 1


def encode(position: int) -> str:
    return base64.urlsafe_b64encode(f"k{position}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int | None:
    """The position after which the page starts, None for the first page; 400 when malformed."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("k") or not text[1:].isdigit():
            raise ValueError(text)
        position = int(text[1:])
    except (ValueError, UnicodeDecodeError):
        raise validation({"query.cursor": ["Not a cursor this API gave out."]}) from None
    if position > MAX_POSITION:
        raise validation({"query.cursor": ["Not a cursor this API gave out."]})
    return position
