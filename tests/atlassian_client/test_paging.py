"""The Atlassian client's one paging loop, over offsets and over org API cursors."""

from __future__ import annotations

from typing import Any

from workers.atlassian.paging import all_pages, org_cursor_page


def test_offset_pages_until_the_last() -> None:
    rows = list(range(7))
    asked: list[int] = []

    def fetch(start: int) -> list[int]:
        asked.append(start)
        return rows[start:start + 3]

    def read(body: list[int], start: int) -> tuple[list[int], int | None]:
        return body, start + len(body) if len(body) == 3 else None

    assert all_pages(fetch, read, 0) == rows and asked == [0, 3, 6]


def test_org_cursors_follow_links_next_and_stop_without_one() -> None:
    pages: dict[str, Any] = {"": {"data": [1, 2], "links": {"next": "c2"}},
                             "c2": {"data": [3], "links": {}}}
    asked: list[str] = []

    def fetch(cursor: str) -> Any:
        asked.append(cursor)
        return pages[cursor]

    assert all_pages(fetch, org_cursor_page, "") == [1, 2, 3] and asked == ["", "c2"]
    assert all_pages(lambda c: None, org_cursor_page, "") == []  # an empty answer ends it
