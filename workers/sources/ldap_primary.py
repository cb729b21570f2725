"""AD primary groups: a user's primary group (usually Domain Users) lists them by primaryGroupID.

Active Directory does not put a user in the `member` attribute of their primary group; the user
carries the group's RID in `primaryGroupID` instead, and the group's SID is the user's domain
SID with that RID appended.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator


def sid_text(raw: bytes) -> str | None:
    """The S-1-… form of a binary SID (revision, count, 48-bit authority, sub-authorities)."""
    if len(raw) < 8 or raw[0] != 1 or len(raw) != 8 + 4 * raw[1]:
        return None
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{raw[1]}I", raw[8:])
    return "-".join(["S", "1", str(authority), *map(str, subs)])


def primary_group_sid(user_sid: str, rid: str) -> str | None:
    """The SID of the group whose RID is `rid` in the user's domain; None for bad input."""
    domain, _, _ = user_sid.rpartition("-")
    return f"{domain}-{int(rid)}" if domain and rid.strip().isdigit() else None


def primary_memberships(users: Iterable[tuple[str, bytes, str]],
                        groups: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(group id, user id) for every user whose primary group is one of `groups` (SID → id).

    `users` holds (user id, the user's binary objectSid, their primaryGroupID as text).
    """
    for user_id, raw_sid, rid in users:
        user_sid = sid_text(raw_sid)
        group_sid = primary_group_sid(user_sid, rid) if user_sid else None
        if group_sid in groups:
            yield groups[group_sid], user_id
