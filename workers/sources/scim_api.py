"""The base of the sources that read a SCIM 2.0 service provider (a SCIM server, an Oracle domain)."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from workers.sources import scim_changes, scim_slices
from workers.sources.base import PendingChanges
from workers.sources.http import HttpSource
from workers.sources.scim_paging import ScimReader, check_listing
from workers.sync.model import GroupSlice, Snapshot, UserSlice

SCIM_ACCEPT = "application/scim+json, application/json"


class ScimApiSource(HttpSource):
    """Full, change and one-item reads through a `ScimReader`; subclasses make the client and
    the reader (with the provider's own limits)."""

    supports_incremental = True
    supports_targeted = True
    default_workers = 4
    place: ClassVar[str] = "the SCIM server"
    """How the connection test names what it reached."""

    @abstractmethod
    def reader(self) -> ScimReader:
        """A reader over this connection's client, sized by the settings."""

    def filtering_supported(self) -> bool:
        """Whether the provider filters (`meta.lastModified gt`, `members.value eq`)."""
        return True

    def check(self) -> str:
        users = check_listing(self.client, "Users")
        groups = check_listing(self.client, "Groups")
        return f"Connected to {self.place}: {users} users and {groups} groups."

    def fetch(self) -> Snapshot:
        # without filtering there is no way to ask "what changed": no cursor, every run in full
        return self.reader().fetch(with_cursor=self.filtering_supported())

    def fetch_changes(self, previous: Snapshot, cursor: str) -> Snapshot:
        pending = self.read_changes(cursor)
        return self.fetch() if pending is None else pending.apply(previous)

    def read_changes(self, cursor: str) -> PendingChanges | None:
        return scim_changes.read_changes(self.reader(), cursor, self.fetch)

    def fetch_user(self, user_id: str) -> UserSlice:
        return scim_slices.fetch_user(self.reader(), user_id, self.filtering_supported())

    def fetch_group(self, group_id: str) -> GroupSlice:
        return scim_slices.fetch_group(self.reader(), group_id, self.filtering_supported())
