"""The one paging loop of the Atlassian client: offset pages (Jira, Confluence) and cursors (org API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Token = TypeVar("Token")
Item = TypeVar("Item")


def all_pages(fetch: Callable[[Token], Any],
              read: Callable[[Any, Token], tuple[list[Item], Token | None]],
              first: Token) -> list[Item]:
    """Every item: `fetch(token)` one page's body, `read(body, token)` its items and the next
    token (None after the last page), starting from `first` (offset 0, or no cursor yet)."""
    items: list[Item] = []
    token: Token | None = first
    while token is not None:
        found, token = read(fetch(token), token)
        items.extend(found)
    return items


def org_cursor_page(body: Any, _cursor: str) -> tuple[list[Any], str | None]:
    """An organization API v2 page: `data`, and `links.next` as the next cursor."""
    body = body if isinstance(body, dict) else {}
    cursor = (body.get("links") or {}).get("next")
    return list(body.get("data") or []), str(cursor) if cursor else None
