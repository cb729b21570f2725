"""What the sync engine needs from an Atlassian site: the interface the client implements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AtlassianGroup:
    group_id: str
    name: str


@dataclass(frozen=True, slots=True)
class AtlassianUser:
    account_id: str
    email: str | None = None
    display_name: str = ""
    active: bool = True
    account_type: str = "atlassian"


class AtlassianTarget(Protocol):
    """One Atlassian site (Jira or Confluence; groups are per site) as the engine sees it.

    Idempotent by contract: adding an existing member or removing a non-member succeeds;
    creating a group whose name exists returns the existing group. Errors are the typed
    ones of `workers.atlassian.errors`.
    """

    def list_groups(self) -> list[AtlassianGroup]: ...

    def groups_named(self, ids: Iterable[str], names: Iterable[str]) -> list[AtlassianGroup]:
        """The groups with these ids or names (unknown ones left out)."""
        ...

    def synced_groups(self, ids: Iterable[str], names: Iterable[str]) -> set[str]:
        """GroupIds among these synced from an identity provider by Atlassian (never written)."""
        ...

    def group_members(self, group_id: str) -> list[AtlassianUser]: ...

    def find_user_by_email(self, email: str) -> AtlassianUser | None: ...

    def user_groups(self, account_id: str) -> list[AtlassianGroup]: ...

    def create_group(self, name: str) -> AtlassianGroup: ...

    def add_member(self, group_id: str, account_id: str) -> None: ...

    def remove_member(self, group_id: str, account_id: str) -> None: ...

    def invite_user(self, email: str, display_name: str, products: list[str]) -> AtlassianUser: ...

    def suspend_access(self, account_id: str) -> None: ...

    def restore_access(self, account_id: str) -> None: ...

    def is_site_admin(self, account_id: str) -> bool: ...
