"""What an IdP event names: users and groups (by IdP id, or by e-mail/userName/name), or everything.

Every webhook format is reduced to one `Named` value; its `members()` are what the connection's
pending set in Redis holds (see workers/events.py) until the next run takes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EVERYTHING = "*"
USER_ID, GROUP_ID, USER_NAME, GROUP_NAME = "u:", "g:", "n:", "gn:"


class BadEvent(ValueError):
    """The body is not the documented shape; the message says what is wrong (answered 400)."""


@dataclass
class Named:
    """Users and groups an event names; `everything` when it names nothing in particular."""

    user_ids: set[str] = field(default_factory=set)
    group_ids: set[str] = field(default_factory=set)
    user_names: set[str] = field(default_factory=set)
    """E-mail addresses or userNames (or ids the sender could not tell apart), resolved later."""
    group_names: set[str] = field(default_factory=set)
    everything: bool = False

    def merge(self, other: Named) -> Named:
        self.user_ids |= other.user_ids
        self.group_ids |= other.group_ids
        self.user_names |= other.user_names
        self.group_names |= other.group_names
        self.everything = self.everything or other.everything
        return self

    def empty(self) -> bool:
        return not (self.everything or self.user_ids or self.group_ids or self.user_names
                    or self.group_names)

    def members(self) -> list[str]:
        """The pending-set members of this value (prefix + reference)."""
        if self.everything:
            return [EVERYTHING]
        return ([USER_ID + v for v in sorted(self.user_ids)]
                + [GROUP_ID + v for v in sorted(self.group_ids)]
                + [USER_NAME + v for v in sorted(self.user_names)]
                + [GROUP_NAME + v for v in sorted(self.group_names)])


def everything() -> Named:
    return Named(everything=True)


def text(value: object, what: str, limit: int = 512) -> str:
    """A non-empty reference string, or BadEvent naming `what`."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadEvent(f"{what} must be a non-empty string of at most {limit} characters")
    return value.strip()
