"""One user or one group from an LDAP directory, over the fetch's one bound connection.

A user is found by a subtree search on its id attribute; their groups by `(member=<user DN>)`
(plus, on AD, the primary group their primaryGroupID names); a group's parents likewise by
`(member=<group DN>)`. A group's members are its member DNs, each read with a base-scope search.
"""

from __future__ import annotations

import uuid

import ldap3
from ldap3.utils.conv import escape_bytes, escape_filter_chars

from workers.sources.base import SourceError, SourceNotFound
from workers.sources.ldap import Entry, LdapSource, _entry_id, _Link, _ranged, _raw, first_text
from workers.sources.ldap_errors import SearchFailed, raise_for_result
from workers.sources.ldap_primary import primary_group_sid, sid_text
from workers.sources.ldap_settings import LdapConfig
from workers.sources.records import require_complete
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice

SID = "objectSid"


def id_filter(config: LdapConfig, value: str) -> str:
    """`(attr=value)` for an id as the snapshot shows it (objectGUID back to its 16 bytes)."""
    if config.id_attribute.lower() == "objectguid":
        try:
            return f"(objectGUID={escape_bytes(uuid.UUID(value).bytes_le)})"
        except ValueError:
            return "(objectGUID=\\00)"  # not a GUID: matches nothing, so "no such user"
    return f"({config.id_attribute}={escape_filter_chars(value)})"


class Slices:
    """Targeted reads for one LdapSource over one bound link."""

    def __init__(self, source: LdapSource, link: _Link):
        self.source, self.link, self.config = source, link, link.config

    def _search(self, base: str, search_filter: str, attributes: list[str]) -> list[Entry]:
        try:
            return self.source._search(self.link, base, search_filter, attributes)
        except SearchFailed as exc:
            raise SourceError(f"LDAP search failed: {exc.message}") from None

    def _user_attributes(self) -> list[str]:
        c = self.config
        extra = [c.primary_group_attribute, SID] if c.primary_group_attribute else []
        return [c.id_attribute, c.email_attribute, c.display_name_attribute, "cn", *extra]

    def _user(self, entry: Entry, disabled: set[str] | None = None) -> User:
        """The user of `entry`; inactive when in `disabled`, or (without it) when a search
        for that one user under the disabled filter finds them."""
        c = self.config
        user_id = _entry_id(c, entry)
        if not user_id:
            raise SourceError(f"{entry.dn} has no {c.id_attribute}")
        if disabled is None:
            inactive = bool(self._search(c.user_base_dn, f"(&{c.user_filter}{c.disabled_filter}"
                                         f"{id_filter(c, user_id)})", [c.id_attribute]))
        else:
            inactive = user_id in disabled
        return User(id=user_id, email=first_text(entry, c.email_attribute),
                    display_name=first_text(entry, c.display_name_attribute)
                    or first_text(entry, "cn"), active=not inactive)

    def _disabled(self) -> set[str]:
        """Every disabled user's id, in one search (cheaper than one per member)."""
        c = self.config
        return {_entry_id(c, e) for e in self._search(
            c.user_base_dn, f"(&{c.user_filter}{c.disabled_filter})", [c.id_attribute])}

    def _groups_with_member(self, dn: str) -> list[Entry]:
        c = self.config
        return self._search(c.group_base_dn, f"(&{c.group_filter}"
                            f"({c.member_attribute}={escape_filter_chars(dn)}))",
                            [c.id_attribute, c.group_name_attribute])

    def _group(self, entry: Entry) -> Group:
        parents = sorted(_entry_id(self.config, p) for p in self._groups_with_member(entry.dn))
        return Group(id=_entry_id(self.config, entry),
                     name=first_text(entry, self.config.group_name_attribute),
                     parent_ids=tuple(parents))

    def user(self, user_id: str) -> UserSlice:
        c = self.config
        wanted = f"(&{c.user_filter}{id_filter(c, user_id)})"
        found = self._search(c.user_base_dn, wanted, self._user_attributes())
        if not found:
            return UserSlice(user_id, None)
        entry = found[0]
        user = self._user(entry)
        groups = {e.dn: e for e in self._groups_with_member(entry.dn)}
        primary = self._primary_group(entry)
        if primary is not None:
            groups.setdefault(primary.dn, primary)
        return UserSlice(user_id, user, tuple(self._group(g) for g in groups.values()))

    def _primary_group(self, entry: Entry) -> Entry | None:
        """AD's primary group of a user (its `member` leaves them out)."""
        c = self.config
        if not c.primary_group_attribute:
            return None
        user_sid = sid_text(_raw(entry, SID))
        group_sid = primary_group_sid(user_sid, first_text(entry, c.primary_group_attribute)) \
            if user_sid else None
        if not group_sid:
            return None
        found = self._search(c.group_base_dn, f"(&{c.group_filter}(objectSid={group_sid}))",
                             [c.id_attribute, c.group_name_attribute])
        return found[0] if found else None

    def group(self, group_id: str) -> GroupSlice:
        c = self.config
        member = (_ranged(c.member_attribute, 0, c.member_range_size) if c.member_range_size
                  else c.member_attribute)
        found = self._search(c.group_base_dn, f"(&{c.group_filter}{id_filter(c, group_id)})",
                             [c.id_attribute, c.group_name_attribute, member, SID])
        if not found:
            return GroupSlice(group_id, None)
        entry = found[0]
        snapshot = Snapshot()
        dns = self.source._members_of(self.link, [entry], snapshot).get(entry.dn, [])
        require_complete(snapshot, f"the members of {entry.dn}")
        disabled = self._disabled()
        users = [u for dn in dns if (u := self._user_at(dn, disabled)) is not None]
        sid = sid_text(_raw(entry, SID)) if c.primary_group_attribute else None
        if sid:  # AD: users whose primary group this is
            rid = sid.rpartition("-")[2]
            for e in self._search(c.user_base_dn, f"(&{c.user_filter}"
                                  f"({c.primary_group_attribute}={rid}))", self._user_attributes()):
                if primary_group_sid(sid_text(_raw(e, SID)) or "", rid) == sid:
                    users.append(self._user(e, disabled))
        unique = {u.id: u for u in users}
        return GroupSlice(group_id, self._group(entry), tuple(unique.values()))

    def _user_at(self, dn: str, disabled: set[str]) -> User | None:
        """The user at `dn`, or None when it is no user (a nested group, an entry outside)."""
        conn = self.link.get()
        conn.search(dn, self.config.user_filter, search_scope=ldap3.BASE,
                    attributes=self._user_attributes())
        try:
            raise_for_result(conn.result, f"reading the member {dn}")
        except SourceNotFound:
            return None  # a dangling member value
        except SearchFailed as exc:
            raise SourceError(exc.message) from None
        entries = [Entry(r["dn"], r["raw_attributes"]) for r in conn.response or []
                   if r.get("type") == "searchResEntry"]
        if not entries or not _entry_id(self.config, entries[0]):
            return None
        return self._user(entries[0], disabled)

