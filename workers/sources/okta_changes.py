"""Okta's change cursor: a lastUpdated stamp for the users search, a digest of the group list, and the users already applied inside the clock margin."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SEEN_MAX = 1000
"""At most this many users are remembered as applied; past it the next read applies them again
(harmless, only not a no-op)."""


@dataclass(frozen=True, slots=True)
class OktaCursor:
    """Where the last read left Okta. `since` runs CLOCK_MARGIN behind our clock, so a search
    answers again with users changed just before it: `seen` holds those users' lastUpdated as
    already applied. `groups` is the digest of the group list (ids and both stamps) the base
    was built from; None in cursors stored before it existed."""

    since: str
    groups: str | None = None
    seen: dict[str, str] = field(default_factory=dict)

    def encode(self) -> str:
        return json.dumps({"since": self.since, "groups": self.groups, "seen": self.seen},
                          sort_keys=True, separators=(",", ":"))


def parse_cursor(text: str | None) -> OktaCursor | None:
    """The cursor in `text` (also the bare stamp stored by earlier versions); None when unusable."""
    if parse_stamp(text) is not None:
        return OktaCursor(str(text))
    try:
        data = json.loads(text or "")
        since, groups, seen = data["since"], data.get("groups"), data.get("seen") or {}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if (parse_stamp(since) is None or not isinstance(groups, str | None)
            or not isinstance(seen, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in seen.items())):
        return None
    return OktaCursor(since, groups, seen)


def groups_digest(items: list[dict[str, Any]]) -> str:
    """One fingerprint of the group list: any group created, deleted, renamed or with changed
    members gives another (Okta bumps lastUpdated and lastMembershipUpdated)."""
    rows = sorted(f"{g.get('id')}|{g.get('lastUpdated')}|{g.get('lastMembershipUpdated')}"
                  for g in items)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:32]


def seen_after(items: list[dict[str, Any]], since: str) -> dict[str, str]:
    """The users of `items` changed after `since`, by id and lastUpdated (empty past SEEN_MAX)."""
    seen = {str(u["id"]): u["lastUpdated"] for u in items
            if isinstance(u.get("lastUpdated"), str) and u.get("id") and after(u["lastUpdated"], since)}
    return seen if len(seen) <= SEEN_MAX else {}


def fresh(items: list[dict[str, Any]], seen: dict[str, str]) -> list[dict[str, Any]]:
    """The users of a search not already applied as they are now."""
    return [u for u in items
            if not isinstance(u.get("lastUpdated"), str) or seen.get(str(u.get("id"))) != u["lastUpdated"]]


def stamp(ts: float) -> str:
    """An Okta timestamp (UTC, milliseconds)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_stamp(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def after(value: str | None, since: str) -> bool:
    """Whether stamp `value` is later than `since`; an unreadable stamp counts as later."""
    at, start = parse_stamp(value), parse_stamp(since)
    return at is None or start is None or at > start
