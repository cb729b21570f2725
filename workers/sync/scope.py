"""A targeted run's scope: the IdP users and groups an event named (IdP ids)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ScopeError(ValueError):
    """A stored or enqueued scope is not of the {"users": [...], "groups": [...]} form."""


@dataclass(frozen=True)
class Scope:
    """IdP ids of the users and groups a targeted run reads and plans; empty means 'everything'."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.users and not self.groups

    def to_json(self) -> dict[str, list[str]]:
        return {"users": sorted(self.users), "groups": sorted(self.groups)}

    @classmethod
    def from_json(cls, data: Any) -> Scope:
        """From `to_json()`'s form; None is the empty scope; ScopeError on anything else."""
        if data is None:
            return cls()
        if not isinstance(data, dict) or not set(data) <= {"users", "groups"}:
            raise ScopeError('a scope is {"users": [...], "groups": [...]}')
        users, groups = data.get("users", []), data.get("groups", [])
        for name, ids in (("users", users), ("groups", groups)):
            if not isinstance(ids, list | tuple | set | frozenset) or not all(
                    isinstance(i, str) and i for i in ids):
                raise ScopeError(f"scope {name} must be a list of IdP ids")
        return cls(frozenset(users), frozenset(groups))

    def __or__(self, other: Scope) -> Scope:
        return Scope(self.users | other.users, self.groups | other.groups)
