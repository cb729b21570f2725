"""LDAP / Active Directory source: paged searches for users and groups, ranged members, nesting."""

from __future__ import annotations

import contextlib
import math
import re
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException, LDAPInvalidFilterError
from marshmallow import ValidationError

from workers.backoff import BackoffPolicy
from workers.netguard import UnresolvableHost, UnsafeURLError, check_url, resolve_checked
from workers.sources.base import (
    Source,
    SourceConfigError,
    SourceError,
    SourceUnreachable,
)
from workers.sources.ldap_errors import SearchFailed, raise_for_result, result_error, socket_error
from workers.sources.ldap_primary import primary_memberships, sid_text
from workers.sources.ldap_settings import LdapConfig, LdapSettingsSchema, resolve
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice

PAGED_RESULTS = "1.2.840.113556.1.4.319"
SID = "objectSid"
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_RANGE = re.compile(r";range=(\d+)-(\d+|\*)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Entry:
    dn: str
    attributes: dict[str, list[bytes]]


def normalize_dn(dn: str) -> str:
    """A comparable form of a DN: case and spacing differ between entries and member values."""
    rdns = _UNESCAPED_COMMA.split(dn.strip())
    return ",".join("=".join(part.strip() for part in rdn.split("=", 1)).lower() for rdn in rdns)


def decode_id(attribute: str, raw: bytes) -> str:
    """objectGUID is 16 little-endian bytes; other ids are text (binary ones become hex)."""
    if attribute.lower() == "objectguid" and len(raw) == 16:
        return str(uuid.UUID(bytes_le=raw))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


def member_range(key: str) -> tuple[int, int | None] | None:
    """(start, end) of an AD ranged attribute such as `member;range=0-1499`; end None for `*`."""
    match = _RANGE.search(key)
    if not match:
        return None
    end = match.group(2)
    return int(match.group(1)), None if end == "*" else int(end)


def first_text(entry: Entry, attribute: str) -> str:
    for key, values in entry.attributes.items():
        if key.lower() == attribute.lower() and values:
            return values[0].decode("utf-8", "replace")
    return ""


class LdapSource(Source):
    """Reads an LDAP directory (OpenLDAP, Active Directory, any LDAPv3 server) over ldap3."""

    kind = "ldap"
    label = "LDAP / Active Directory"
    settings_schema = LdapSettingsSchema
    supports_targeted = True

    def __init__(self, settings: Mapping[str, Any], *, allow_private: bool = False,
                 backoff: BackoffPolicy | None = None, sleep: Callable[[float], None] = time.sleep):
        super().__init__(settings, allow_private=allow_private)
        self.backoff = backoff or BackoffPolicy(initial=1.0, cap=15.0, max_retries=3)
        self.sleep = sleep

    # -- connection -------------------------------------------------------------------------

    def _config(self) -> LdapConfig:
        try:
            config = resolve(self.settings)
        except ValidationError as exc:
            raise SourceConfigError(f"Invalid LDAP settings: {exc.messages}") from None
        try:
            # StartTLS upgrades ldap:// before any credential is sent, so it counts as TLS
            check_url(config.url, allow_private=self.allow_private,
                      allow_http=config.start_tls or self.allow_private, resolve=False)
        except UnsafeURLError as exc:
            raise SourceConfigError(str(exc)) from None
        return config

    def _connect(self, config: LdapConfig) -> ldap3.Connection:
        parts = urlsplit(config.url)
        secure = parts.scheme == "ldaps"
        host, port = parts.hostname or "", parts.port or (636 if secure else 389)
        # dial the address the guard checked; TLS still verifies the certificate for the name
        address = self._checked_address(host, port)
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED if config.verify_tls else ssl.CERT_NONE,
                        ca_certs_data=config.ca_cert or None, valid_names=[host],
                        sni=None if address == host else host)
        server = ldap3.Server(address, port=port,
                              use_ssl=secure, tls=tls, get_info=ldap3.NONE,
                              connect_timeout=config.timeout)
        # return_empty_attributes=False: with it, ldap3 fills in an empty `member` and then
        # fails (KeyError) deleting it again when the server answers `member;range=0-*`
        conn = ldap3.Connection(server, user=config.bind_dn, password=config.bind_password,
                                read_only=True, auto_range=False, raise_exceptions=False,
                                return_empty_attributes=False,
                                receive_timeout=math.ceil(config.timeout))  # ldap3 wants int
        where = f"{host}:{server.port}"
        try:
            conn.open()
            if config.start_tls and not conn.start_tls():
                raise SourceUnreachable(f"StartTLS failed at {where}: {conn.result}")
            if not conn.bind():
                raise result_error(conn.result, f"binding as {config.bind_dn}")
        except LDAPCommunicationError as exc:
            conn.unbind()
            raise socket_error(exc, where) from None
        except LDAPException as exc:
            conn.unbind()
            raise SourceUnreachable(f"Cannot talk to the LDAP server at {where}: {exc}") from None
        return conn

    def _checked_address(self, host: str, port: int) -> str:
        try:
            return resolve_checked(host, port, allow_private=self.allow_private)
        except UnresolvableHost:
            raise SourceUnreachable(f"The LDAP host name {host} does not resolve (DNS): check "
                                    f"the URL.") from None
        except UnsafeURLError as exc:
            raise SourceConfigError(f"Refusing to call the LDAP server: {exc}") from None

    # -- searches ---------------------------------------------------------------------------

    def _search(self, link: _Link, base: str, search_filter: str,
                attributes: list[str]) -> list[Entry]:
        """Every entry of a paged subtree search, retried from the start on transient failure."""
        attempt = 0
        while True:
            try:
                return self._paged_search(link, base, search_filter, attributes)
            except SearchFailed as exc:
                attempt += 1
                if attempt > self.backoff.max_retries or not exc.transient:
                    raise
                self.sleep(self.backoff.delay(attempt))

    def _paged_search(self, link: _Link, base: str, search_filter: str,
                      attributes: list[str]) -> list[Entry]:
        try:
            conn = link.get()
        except SourceUnreachable as exc:
            raise SearchFailed(exc.message, True) from None
        entries: list[Entry] = []
        cookie: bytes | None = None
        try:
            while True:
                conn.search(base, search_filter, attributes=attributes,
                            paged_size=link.config.page_size, paged_cookie=cookie)
                entries += [Entry(r["dn"], r["raw_attributes"]) for r in conn.response or []
                            if r.get("type") == "searchResEntry"]
                raise_for_result(conn.result, f"searching {base} for {search_filter}", entries)
                cookie = conn.result.get("controls", {}).get(PAGED_RESULTS, {}) \
                    .get("value", {}).get("cookie")
                if not cookie:
                    return entries
        except LDAPCommunicationError as exc:
            link.drop()  # the server dropped us: the retry binds afresh
            raise SearchFailed(f"connection lost while searching {base}: {exc}", True,
                               entries) from None

    def _rest_of_range(self, link: _Link, entry: Entry) -> list[bytes]:
        """Values of a ranged member attribute beyond the first slice (AD: 1500 per read)."""
        config = link.config
        values: list[bytes] = []
        start = _next_range_start(entry.attributes, config.member_attribute)
        conn = link.get()
        while start is not None:
            conn.search(entry.dn, "(objectClass=*)", search_scope=ldap3.BASE,
                        attributes=[_ranged(config.member_attribute, start,
                                            config.member_range_size)])
            raise_for_result(conn.result, f"reading the members of {entry.dn}")
            chunk = conn.response[0]["raw_attributes"] if conn.response else {}
            values += next((v for k, v in chunk.items() if member_range(k)), [])
            start = _next_range_start(chunk, config.member_attribute)
        return values

    # -- the interface ----------------------------------------------------------------------

    def check(self) -> str:
        config = self._config()
        with self._bound(config) as link:
            conn = link.get()
            for label, base in (("user", config.user_base_dn), ("group", config.group_base_dn)):
                conn.search(base, "(objectClass=*)", search_scope=ldap3.BASE,
                            attributes=ldap3.NO_ATTRIBUTES)
                raise_for_result(conn.result, f"reading the {label} base DN {base}")
            try:
                conn.search(config.user_base_dn, config.user_filter, size_limit=1,
                            attributes=ldap3.NO_ATTRIBUTES)
            except LDAPInvalidFilterError:
                raise SourceConfigError("The user filter is not valid.") from None
        return f"Connected to {urlsplit(config.url).hostname} as {config.bind_dn}."

    @contextlib.contextmanager
    def _bound(self, config: LdapConfig) -> Iterator[_Link]:
        """One bound connection for a whole operation, released at the end. The bind comes
        first so that bad credentials fail with the admin's error, not a search's."""
        link = _Link(self, config)
        link.get()
        try:
            yield link
        finally:
            link.drop()

    def fetch(self) -> Snapshot:
        # One bind for the whole fetch: searches and ranged reads share the connection.
        with self._bound(self._config()) as link:
            return self._read(link)

    def fetch_user(self, user_id: str) -> UserSlice:
        from workers.sources.ldap_slices import Slices  # it builds on this module

        with self._bound(self._config()) as link:
            return Slices(self, link).user(user_id)

    def fetch_group(self, group_id: str) -> GroupSlice:
        from workers.sources.ldap_slices import Slices

        with self._bound(self._config()) as link:
            return Slices(self, link).group(group_id)

    def _read(self, link: _Link) -> Snapshot:
        config = link.config
        snapshot = Snapshot()
        user_attrs = [config.id_attribute, config.email_attribute,
                      config.display_name_attribute, "cn"]
        group_attrs = [config.id_attribute, config.group_name_attribute]
        if config.primary_group_attribute:
            user_attrs += [config.primary_group_attribute, SID]
            group_attrs.append(SID)
        member = config.member_attribute
        if config.member_range_size:
            # AD returns at most MaxValRange (1500) values of `member` per read; asking for a
            # range up front makes every server say where the slice ends
            member = _ranged(member, 0, config.member_range_size)
        group_attrs.append(member)
        disabled = f"(&{config.user_filter}{config.disabled_filter})"
        jobs = {"users": (config.user_base_dn, config.user_filter, user_attrs),
                "disabled users": (config.user_base_dn, disabled, [config.id_attribute]),
                "groups": (config.group_base_dn, config.group_filter, group_attrs)}
        found = {name: self._collect(lambda job=job: self._search(link, *job), name, snapshot)
                 for name, job in jobs.items()}
        user_dns = self._add_users(config, found["users"], found["disabled users"], snapshot)
        self._add_groups(link, found["groups"], user_dns, snapshot)
        if config.primary_group_attribute:
            _add_primary_members(config, found["users"], found["groups"], snapshot)
        return snapshot

    @staticmethod
    def _collect(search: Callable[[], list[Entry]], name: str,
                 snapshot: Snapshot) -> list[Entry]:
        try:
            return search()
        except SearchFailed as exc:
            snapshot.mark_incomplete(f"LDAP search for {name} failed: {exc.message}")
            return exc.partial

    def _add_users(self, config: LdapConfig, users: list[Entry], disabled: list[Entry],
                   snapshot: Snapshot) -> dict[str, str]:
        """Add users to the snapshot; return normalized DN → user id for member resolution."""
        inactive = {_entry_id(config, e) for e in disabled}
        by_dn: dict[str, str] = {}
        for entry in users:
            user_id = _entry_id(config, entry)
            if not user_id:
                snapshot.errors.append(f"{entry.dn} has no {config.id_attribute}; skipped")
                continue
            name = first_text(entry, config.display_name_attribute) or first_text(entry, "cn")
            snapshot.add_user(User(id=user_id, email=first_text(entry, config.email_attribute),
                                   display_name=name, active=user_id not in inactive))
            by_dn[normalize_dn(entry.dn)] = user_id
        return by_dn

    def _add_groups(self, link: _Link, groups: list[Entry], user_dns: dict[str, str],
                    snapshot: Snapshot) -> None:
        config = link.config
        ids = {normalize_dn(e.dn): _entry_id(config, e) for e in groups}
        members = self._members_of(link, groups, snapshot)
        parents: dict[str, list[str]] = {}
        for entry in groups:
            group_id = ids[normalize_dn(entry.dn)]
            for dn in members.get(entry.dn, []):
                key = normalize_dn(dn)
                if key in user_dns:
                    snapshot.add_member(group_id, user_dns[key])
                elif key in ids:
                    parents.setdefault(ids[key], []).append(group_id)
        for entry in groups:
            group_id = ids[normalize_dn(entry.dn)]
            snapshot.add_group(Group(id=group_id,
                                     name=first_text(entry, config.group_name_attribute),
                                     parent_ids=tuple(parents.get(group_id, ()))))

    def _members_of(self, link: _Link, groups: list[Entry],
                    snapshot: Snapshot) -> dict[str, list[str]]:
        """Member DNs per group DN; groups over the server's range limit are read on."""
        config = link.config
        members = {e.dn: [v.decode("utf-8", "replace") for k, vs in e.attributes.items()
                          if k.split(";")[0].lower() == config.member_attribute.lower()
                          for v in vs] for e in groups}
        for entry in groups:
            if _next_range_start(entry.attributes, config.member_attribute) is None:
                continue
            more = self._safe_range(link, entry)
            if more is None:
                snapshot.mark_incomplete(f"could not read all members of {entry.dn}")
            else:
                members[entry.dn] += [v.decode("utf-8", "replace") for v in more]
        return members

    def _safe_range(self, link: _Link, entry: Entry) -> list[bytes] | None:
        try:
            return self._rest_of_range(link, entry)
        except LDAPCommunicationError:
            link.drop()
            return None
        except (SourceError, SearchFailed, LDAPException):
            return None


class _Link:
    """The fetch's one bound connection; bound on first use, and again only after a drop."""

    def __init__(self, source: LdapSource, config: LdapConfig):
        self.source, self.config = source, config
        self._conn: ldap3.Connection | None = None

    def get(self) -> ldap3.Connection:
        if self._conn is None:
            self._conn = self.source._connect(self.config)
        return self._conn

    def drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(LDAPException):  # already gone: nothing to release
                self._conn.unbind()
            self._conn = None


def _ranged(attribute: str, start: int, size: int) -> str:
    """`member;range=0-1499`: one slice of a multi-valued attribute (`*` end when size is 0)."""
    return f"{attribute};range={start}-{start + size - 1 if size else '*'}"


def _add_primary_members(config: LdapConfig, users: list[Entry], groups: list[Entry],
                         snapshot: Snapshot) -> None:
    """Members AD leaves out of `member`: users whose primaryGroupID names one of the groups."""
    sids = {e.dn: sid_text(_raw(e, SID)) for e in groups}
    by_sid = {sid: _entry_id(config, e) for e in groups if (sid := sids[e.dn])}
    people = [(_entry_id(config, e), _raw(e, SID),
               first_text(e, config.primary_group_attribute)) for e in users]
    for group_id, user_id in primary_memberships(
            [p for p in people if p[0] in snapshot.users and p[1] and p[2]], by_sid):
        snapshot.add_member(group_id, user_id)


def _raw(entry: Entry, attribute: str) -> bytes:
    for key, values in entry.attributes.items():
        if key.lower() == attribute.lower() and values:
            return values[0]
    return b""


def _entry_id(config: LdapConfig, entry: Entry) -> str:
    for key, values in entry.attributes.items():
        if key.lower() == config.id_attribute.lower() and values:
            return decode_id(config.id_attribute, values[0])
    return ""


def _next_range_start(attributes: dict[str, Any], member_attribute: str) -> int | None:
    """Where the next ranged read starts, or None when the slice seen was the last one."""
    for key in attributes:
        if key.split(";")[0].lower() != member_attribute.lower():
            continue
        bounds = member_range(key)
        if bounds and bounds[1] is not None:
            return bounds[1] + 1
    return None
