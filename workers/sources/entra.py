"""Microsoft Entra ID source: Graph lists with @odata.nextLink, members by type, delta links as the cursor."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workers.sources.base import (
    PendingChanges,
    SourceAuthError,
    SourceConfigError,
    SourceError,
    SourceNotFound,
)
from workers.sources.http import (
    ClientCredentialsAuth,
    HttpClient,
    HttpSource,
    SourceTransientError,
    convert,
    drain,
    drop_member,
    incomplete_copy,
    own_members,
    response_detail,
    shared_copy,
    workers_field,
)
from workers.sources.records import apply_changes, strict, with_parents
from workers.sources.settings import field_meta
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
USER_FIELDS = "id,displayName,mail,userPrincipalName,accountEnabled"
PAGE = 999  # Graph's largest $top for users, groups and members


class EntraSettings(Schema):
    """What the admin types to connect an Entra ID tenant (an app registration)."""

    tenant = fields.String(required=True, validate=validate.Length(min=1), metadata=field_meta(
        "Tenant", "Directory (tenant) ID or a verified domain such as contoso.onmicrosoft.com."))
    client_id = fields.String(required=True, validate=validate.Length(min=1), metadata=field_meta(
        "Application (client) ID", "An app registration with application permissions "
        "User.Read.All and GroupMember.Read.All, admin-consented."))
    client_secret = fields.String(load_default=None, metadata=field_meta(
        "Client secret", "A client secret value of that app (or use a certificate below).",
        secret=True))
    certificate = fields.String(load_default=None, metadata=field_meta(
        "Certificate (PEM)",
        "Instead of a secret: a certificate uploaded to the app registration."))
    private_key = fields.String(load_default=None, metadata=field_meta(
        "Certificate private key (PEM)",
        "The unencrypted private key of that certificate.", secret=True))
    transitive = fields.Boolean(load_default=False, metadata=field_meta(
        "Flatten nested groups", "Read every group's transitive user members instead of direct "
        "members and nesting (incremental sync is then not available)."))
    login_url = fields.Url(load_default="https://login.microsoftonline.com", require_tld=False,
                           schemes={"https", "http"},
                           metadata=field_meta("Login URL", "Change only for national clouds."))
    graph_url = fields.Url(load_default="https://graph.microsoft.com", require_tld=False,
                           schemes={"https", "http"},
                           metadata=field_meta("Graph URL", "Change only for national clouds."))
    workers = workers_field(8, "Graph throttles per app and tenant with 429 + Retry-After")

    @validates_schema
    def _one_credential(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("certificate") or data.get("private_key"):
            try:
                certificate_thumbprints(data.get("certificate") or "", data.get("private_key")
                                        or "")
            except ValueError as exc:
                raise ValidationError({"certificate": [str(exc)]}) from None
        elif not data.get("client_secret"):
            raise ValidationError({"client_secret": [
                "Give a client secret, or a certificate with its private key."]})


def certificate_thumbprints(certificate: str, private_key: str) -> dict[str, str]:
    """The x5t and x5t#S256 header fields of a client assertion; ValueError when unusable."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except ValueError:
        raise ValueError("Not a PEM certificate.") from None
    try:
        key = load_pem_private_key(private_key.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("The private key is not an unencrypted PEM key.") from None
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        raise ValueError("The private key does not belong to the certificate.")
    der = cert.public_bytes(Encoding.DER)
    return {name: base64.urlsafe_b64encode(digest(der)).rstrip(b"=").decode()
            for name, digest in (("x5t", lambda b: hashlib.sha1(b).digest()),
                                 ("x5t#S256", lambda b: hashlib.sha256(b).digest()))}


class _TenantAuth(ClientCredentialsAuth):
    """Client credentials whose failures name the AADSTS reason (unknown tenant vs bad secret)."""

    def token_error(self, client: HttpClient, response: Any) -> SourceError:
        detail = response_detail(response)
        if "AADSTS90002" in detail or "AADSTS900023" in detail:
            return SourceNotFound(f"Entra ID does not know this tenant{detail}.")
        if "AADSTS700016" in detail:
            return SourceAuthError(f"No application with this client ID in the tenant{detail}.")
        return super().token_error(client, response)


class EntraSource(HttpSource):
    """Reads users, groups and direct memberships of one Entra ID tenant through Graph."""

    kind = "entra"
    label = "Entra ID"
    settings_schema = EntraSettings
    supports_incremental = True
    supports_targeted = True

    def make_client(self) -> HttpClient:
        s = self.settings
        token_url = (f"{s['login_url'].rstrip('/')}/{quote(s['tenant'], safe='')}"
                     f"/oauth2/v2.0/token")
        scope = "https://graph.microsoft.com/.default"
        if s.get("certificate"):
            try:
                header = certificate_thumbprints(s["certificate"], s.get("private_key") or "")
            except ValueError as exc:
                raise SourceConfigError(str(exc)) from None
            auth = _TenantAuth(token_url, s["client_id"], private_key=s["private_key"],
                               scope=scope, assertion_header=header)
        else:
            auth = _TenantAuth(token_url, s["client_id"], client_secret=s.get("client_secret"),
                               scope=scope)
        return self.new_client(f"{s['graph_url'].rstrip('/')}/v1.0/", auth)

    def check(self) -> str:
        self.client.get_json("users", {"$select": "id", "$top": 1})
        self.client.get_json("groups", {"$select": "id", "$top": 1})
        return f"Connected to tenant {self.settings['tenant']}: users and groups are readable."

    # -- full read ---------------------------------------------------------------------

    def fetch(self) -> Snapshot:
        snapshot = Snapshot()
        cursor = None if self.settings.get("transitive") else self._latest_cursor(snapshot)
        users = self.client.pages_next_url("users", {"$select": USER_FIELDS, "$top": PAGE})
        for user in convert(drain(users, snapshot, "users"), to_user, snapshot, "user"):
            snapshot.add_user(user)
        groups = self.client.pages_next_url("groups", {"$select": "id,displayName", "$top": PAGE})
        names = dict(convert(drain(groups, snapshot, "groups"),
                             lambda g: (g["id"], g.get("displayName") or g["id"]),
                             snapshot, "group"))
        parents = self._read_members(snapshot, list(names))
        for gid, name in names.items():
            snapshot.add_group(Group(gid, name, tuple(sorted(parents.get(gid, ())))))
        snapshot.cursor = cursor
        return snapshot

    def _latest_cursor(self, snapshot: Snapshot) -> str | None:
        """Delta links for 'now', taken before the read so nothing changed during it is lost."""
        try:
            links = {kind: self.client.get_json(f"{kind}/delta", {"$deltatoken": "latest"})
                     ["@odata.deltaLink"] for kind in ("users", "groups")}
        except (SourceTransientError, KeyError):
            return None
        return json.dumps(links)

    def _read_members(self, snapshot: Snapshot, group_ids: list[str]) -> dict[str, set[str]]:
        relation = ("transitiveMembers/microsoft.graph.user" if self.settings.get("transitive")
                    else "members")

        def members(gid: str) -> list[tuple[str, str]]:
            pages = self.client.pages_next_url(f"groups/{gid}/{relation}",
                                               {"$select": "id", "$top": PAGE})
            return [(item.get("@odata.type", USER_TYPE), item["id"])
                    for page in pages for item in page]

        parents: dict[str, set[str]] = {}
        for gid, items, error in self.client.map_concurrent(members, group_ids):
            if error:
                snapshot.mark_incomplete(f"reading members of group {gid}: {error.message}")
                continue
            for odata_type, member_id in items or []:
                if odata_type == USER_TYPE:
                    snapshot.add_member(gid, member_id)
                elif odata_type == GROUP_TYPE:  # devices, contacts and the like are not synced
                    parents.setdefault(member_id, set()).add(gid)
        return parents

    # -- one user, one group -----------------------------------------------------------

    def fetch_user(self, user_id: str) -> UserSlice:
        """GET /users/{id}, its groups from /memberOf (transitive: /transitiveMemberOf), and
        each group's parents from that group's /memberOf."""
        uid = quote(user_id, safe="")
        item = self.get_or_none(f"users/{uid}", {"$select": USER_FIELDS})
        if item is None:
            return UserSlice(user_id, None)
        relation = "transitiveMemberOf" if self.settings.transitive else "memberOf"
        groups = self._groups_at(f"users/{uid}/{relation}/microsoft.graph.group")
        if self.settings.transitive:  # flattened: the snapshot has no nesting either
            found = tuple(Group(gid, name) for gid, name in groups)
        else:
            found = with_parents(groups, self._parents, self.client.map_concurrent)
        return UserSlice(user_id, strict(to_user, item, "user", self.label), found)

    def fetch_group(self, group_id: str) -> GroupSlice:
        """GET /groups/{id}, its parents, and its user members (transitive ones when flattened)."""
        gid = quote(group_id, safe="")
        item = self.get_or_none(f"groups/{gid}", {"$select": "id,displayName"})
        if item is None:
            return GroupSlice(group_id, None)
        parents = () if self.settings.transitive else tuple(sorted(self._parents(group_id)))
        group = strict(lambda g: Group(g["id"], g.get("displayName") or g["id"], parents), item,
                       "group", self.label)
        relation = "transitiveMembers" if self.settings.transitive else "members"
        pages = self.client.pages_next_url(f"groups/{gid}/{relation}/microsoft.graph.user",
                                           {"$select": USER_FIELDS, "$top": PAGE})
        members = tuple(strict(to_user, u, "user", self.label) for page in pages for u in page)
        return GroupSlice(group_id, group, members)

    def _groups_at(self, path: str) -> list[tuple[str, str]]:
        pages = self.client.pages_next_url(path, {"$select": "id,displayName", "$top": PAGE})
        return [strict(lambda g: (g["id"], g.get("displayName") or g["id"]), g, "group",
                       self.label) for page in pages for g in page]

    def _parents(self, group_id: str) -> list[str]:
        """The ids of the groups `group_id` is a direct member of."""
        return [gid for gid, _ in self._groups_at(
            f"groups/{quote(group_id, safe='')}/memberOf/microsoft.graph.group")]

    # -- incremental -------------------------------------------------------------------

    def fetch_changes(self, previous: Snapshot, cursor: str) -> Snapshot:
        pending = self.read_changes(cursor)
        return self.fetch() if pending is None else pending.apply(previous)

    def read_changes(self, cursor: str) -> PendingChanges | None:
        """Both delta rounds read first, applied later: an empty round on both sides means
        the directory is as the cursor left it, and no base needs loading."""
        try:
            links = json.loads(cursor)
            users_link, groups_link = links["users"], links["groups"]
        except (ValueError, KeyError, TypeError):
            return None
        if self.settings.get("transitive"):
            return None
        user_items: list[dict[str, Any]] = []
        group_items: list[dict[str, Any]] = []
        try:
            new_users = self._follow(users_link, user_items.append)
            new_groups = self._follow(groups_link, group_items.append)
        except SourceTransientError as exc:
            message = f"reading changes: {exc.message}"
            return PendingChanges(False, None, lambda previous: incomplete_copy(previous, message))
        except SourceError as exc:
            if getattr(exc, "status", None) == 410:  # delta token expired: Graph wants a resync
                return PendingChanges(False, None, lambda previous: self.fetch())
            raise
        new_cursor = json.dumps({"users": new_users, "groups": new_groups})
        return PendingChanges(not user_items and not group_items, new_cursor,
                              lambda previous: _applied(previous, user_items, group_items,
                                                        new_cursor, self.fetch))

    def _follow(self, link: str, apply: Any) -> str:
        """Apply every item of one delta round; the new delta link."""
        last: dict[str, Any] = {}
        for page in self.client.pages_next_url(link, on_last=last.update):
            for item in page:
                apply(item)
        if "@odata.deltaLink" not in last:
            raise SourceError("Graph ended a delta round without a deltaLink.")
        return last["@odata.deltaLink"]


def _applied(previous: Snapshot, user_items: list[dict[str, Any]],
             group_items: list[dict[str, Any]], cursor: str,
             fetch: Callable[[], Snapshot]) -> Snapshot:
    """`previous` with one change read's user and group items applied, at `cursor`."""
    if not previous.complete:
        return fetch()
    snapshot = shared_copy(previous)

    def apply() -> None:
        for item in user_items:
            apply_user_change(snapshot, item)
        changes = GroupChanges(snapshot)
        for item in group_items:
            changes.apply(item)
        changes.finish()

    return apply_changes(snapshot, apply, "Graph sent a malformed change", cursor)


def to_user(item: dict[str, Any], before: User | None = None) -> User:
    """A User from a Graph user (a delta item may carry only the changed properties)."""
    email = item.get("mail") or item.get("userPrincipalName")
    return User(id=item["id"],
                email=email if email is not None else (before.email if before else ""),
                display_name=item.get("displayName", before.display_name if before else ""),
                active=bool(item.get("accountEnabled", before.active if before else True)))


def apply_user_change(snapshot: Snapshot, item: dict[str, Any]) -> None:
    """One users/delta item: removed (soft or hard) or created/updated."""
    uid = item["id"]
    if "@removed" in item:
        snapshot.users.pop(uid, None)
        drop_member(snapshot, uid)
        return
    snapshot.add_user(to_user(item, snapshot.users.get(uid)))


class GroupChanges:
    """Applies groups/delta items, which may split one group over several items and pages."""

    def __init__(self, snapshot: Snapshot):
        """`snapshot` is a `shared_copy`: a group's member set is copied before it changes."""
        self.snapshot = snapshot
        self.owned: set[str] = set()
        self.parents = {gid: set(g.parent_ids) for gid, g in snapshot.groups.items()}
        self.names = {gid: g.name for gid, g in snapshot.groups.items()}

    def apply(self, item: dict[str, Any]) -> None:
        gid = item["id"]
        if "@removed" in item:
            self.names.pop(gid, None)
            self.snapshot.members.pop(gid, None)
            self.owned.discard(gid)
            return
        self.names[gid] = item.get("displayName") or self.names.get(gid) or gid
        if gid not in self.snapshot.members:
            own_members(self.snapshot, gid, self.owned)
        for change in item.get("members@delta") or []:
            removed = "@removed" in change
            if change.get("@odata.type", USER_TYPE) == GROUP_TYPE:
                kids_parents = self.parents.setdefault(change["id"], set())
                (kids_parents.discard if removed else kids_parents.add)(gid)
            else:  # copied on the first change only: the base's set stays as it was
                members = own_members(self.snapshot, gid, self.owned)
                (members.discard if removed else members.add)(change["id"])

    def finish(self) -> None:
        """Rebuild the groups (frozen) once every item is in."""
        # a group as it was stays the base's own object: later diffs then see it by identity
        was = self.snapshot.groups
        groups: dict[str, Group] = {}
        for gid, name in self.names.items():
            parents = tuple(sorted(p for p in self.parents.get(gid, ()) if p in self.names))
            before = was.get(gid)
            groups[gid] = (before if before is not None and before.name == name
                           and before.parent_ids == parents else Group(gid, name, parents))
        self.snapshot.groups = groups
        for gid in list(self.snapshot.members):
            if gid not in self.names:
                del self.snapshot.members[gid]
