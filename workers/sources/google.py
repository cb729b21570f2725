"""Google Workspace source: service account with domain-wide delegation, Directory API lists with nextPageToken."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from marshmallow import Schema, ValidationError, fields, validates

from workers.backoff import BackoffPolicy
from workers.sources.base import (
    SourceAuthError,
    SourceConfigError,
    SourceError,
    SourcePermissionError,
)
from workers.sources.http import (
    HttpClient,
    HttpSource,
    Token,
    TokenAuth,
    convert,
    drain,
    response_detail,
    token_from_response,
    workers_field,
)
from workers.sources.records import every, strict, with_parents
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice

SCOPES = " ".join(f"https://www.googleapis.com/auth/admin.directory.{s}.readonly"
                  for s in ("user", "group", "group.member"))
"""What a sync reads with: the Directory API's users, groups and members, read-only."""
REPORTS_SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"
"""What the Reports API's admin activity watch (and its channels.stop) needs; asked for only by
the webhook subscriptions, so a connection without webhooks works without granting it."""
REPORTS_GRANT = ("grant admin.reports.audit.readonly to the service account's domain-wide "
                 "delegation (Admin console → Security → Access and data control → API controls "
                 "→ Domain-wide delegation: add the scope to the service account's client ID)")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
USERS_PAGE, GROUPS_PAGE, MEMBERS_PAGE = 500, 200, 200  # the API's maxResults ceilings


def parse_key_file(text: str) -> dict[str, Any]:
    """The service-account JSON key, or ValueError saying what is wrong with it."""
    try:
        key = json.loads(text)
    except ValueError:
        raise ValueError("Not JSON: paste the whole key file downloaded for the service "
                         "account.") from None
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise ValueError("Not a service-account key file (its type must be service_account).")
    missing = [f for f in ("client_email", "private_key") if not key.get(f)]
    if missing:
        raise ValueError(f"The key file lacks {', '.join(missing)}.")
    return key


class GoogleSettings(Schema):
    """What the admin provides to connect a Google Workspace tenant."""

    service_account_key = fields.String(required=True, metadata={
        "label": "Service account key (JSON)", "secret": True,
        "help": "The JSON key of a service account with domain-wide delegation for the "
                "admin.directory user, group and group.member readonly scopes (and "
                "admin.reports.audit.readonly for real-time webhooks)."})
    admin_email = fields.Email(required=True, metadata={
        "label": "Admin to impersonate", "secret": False,
        "help": "A Workspace admin allowed to read users and groups."})
    customer = fields.String(load_default="my_customer", metadata={
        "label": "Customer ID", "secret": False,
        "help": "Leave my_customer unless you read another customer's directory."})
    token_url = fields.Url(load_default="https://oauth2.googleapis.com/token", require_tld=False,
                           schemes={"https", "http"}, metadata={
        "label": "Token URL", "secret": False, "help": "Google's OAuth token endpoint."})
    api_url = fields.Url(load_default="https://admin.googleapis.com", require_tld=False,
                         schemes={"https", "http"}, metadata={
        "label": "Admin API URL", "secret": False, "help": "Google's Admin SDK endpoint."})
    workers = workers_field(6, "the Directory API has per-user query quotas")

    @validates("service_account_key")
    def _key_is_usable(self, value: str, **_: Any) -> None:
        try:
            parse_key_file(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class DelegatedAuth(TokenAuth):
    """Google's JWT-bearer grant: an RS256 assertion from the service account, sub = the admin."""

    def __init__(self, key: dict[str, Any], subject: str, token_url: str, scopes: str = SCOPES):
        super().__init__()
        self.key, self.subject, self.token_url = key, subject, token_url
        self.scopes = scopes

    def assertion(self) -> str:
        from authlib.oauth2.rfc7523 import JWTBearerGrant
        from joserfc.jwk import RSAKey

        try:
            signing_key = RSAKey.import_key(self.key["private_key"])
        except (ValueError, TypeError) as exc:
            raise SourceConfigError(f"The service-account private key is unusable: {exc}."
                                    ) from None
        header = {"alg": "RS256", **({"kid": self.key["private_key_id"]}
                                     if self.key.get("private_key_id") else {})}
        signed = JWTBearerGrant.sign(signing_key, issuer=self.key["client_email"],
                                     audience=self.token_url, subject=self.subject,
                                     claims={"scope": self.scopes}, header=header, expires_in=3600)
        return signed.decode() if isinstance(signed, bytes) else signed

    def request_token(self, client: HttpClient) -> Token:
        response = client.post_token(self.token_url, {"grant_type": JWT_BEARER,
                                                      "assertion": self.assertion()})
        if response.status_code >= 300:
            raise self.token_error(response)
        return token_from_response(client.decode(response))

    def token_error(self, response: Any) -> SourceError:
        detail = response_detail(response)
        if "unauthorized_client" in detail and REPORTS_SCOPE in self.scopes.split():
            return SourcePermissionError(f"Google refused domain-wide delegation{detail}: "
                                         f"{REPORTS_GRANT}.")
        if "unauthorized_client" in detail:
            return SourcePermissionError(
                f"Google refused domain-wide delegation{detail}: in the Admin console, "
                f"authorise the service account's client ID for the three directory "
                f"readonly scopes.")
        if "Invalid email or User ID" in detail:
            return SourceAuthError(f"Google does not accept {self.subject} as the admin to "
                                   f"impersonate{detail}.")
        return SourceAuthError(f"Google refused the service-account key{detail}.")


class GoogleSource(HttpSource):
    """Reads users, groups, direct members and group nesting of one Workspace customer."""

    kind = "google"
    label = "Google Workspace"
    settings_schema = GoogleSettings
    default_backoff = BackoffPolicy(initial=1.0, cap=32.0, max_retries=6)  # Google's advice
    supports_targeted = True

    def make_client(self) -> HttpClient:
        return self.new_client(f"{self.settings['api_url'].rstrip('/')}/admin/directory/v1/",
                               self._delegated(SCOPES))

    def reports_client(self) -> HttpClient:
        """A client of the Reports API whose token carries REPORTS_SCOPE (and only it)."""
        return self.new_client(f"{self.settings['api_url'].rstrip('/')}/admin/reports/v1/",
                               self._delegated(REPORTS_SCOPE))

    def _delegated(self, scopes: str) -> DelegatedAuth:
        try:
            key = parse_key_file(self.settings["service_account_key"])
        except ValueError as exc:
            raise SourceConfigError(str(exc)) from None
        return DelegatedAuth(key, self.settings["admin_email"], self.settings["token_url"],
                             scopes=scopes)

    @property
    def customer(self) -> str:
        return self.settings.get("customer") or "my_customer"

    def check(self) -> str:
        self.client.get_json("users", {"customer": self.customer, "maxResults": 1})
        self.client.get_json("groups", {"customer": self.customer, "maxResults": 1})
        return (f"Connected as {self.settings['admin_email']}: users and groups are readable.")

    def fetch(self) -> Snapshot:
        snapshot = Snapshot()
        users = self.client.pages_token("users", {"customer": self.customer,
                                                  "maxResults": USERS_PAGE,
                                                  "projection": "basic"}, items_field="users")
        for user in convert(drain(users, snapshot, "users"), to_user, snapshot, "user"):
            snapshot.add_user(user)
        groups = self.client.pages_token("groups", {"customer": self.customer,
                                                    "maxResults": GROUPS_PAGE},
                                         items_field="groups")
        names = dict(convert(drain(groups, snapshot, "groups"),
                             lambda g: (g["id"], g.get("name") or g.get("email") or g["id"]),
                             snapshot, "group"))
        parents = self._read_members(snapshot, list(names))
        for gid, name in names.items():
            snapshot.add_group(Group(gid, name, tuple(sorted(parents.get(gid, ())))))
        return snapshot

    def _read_members(self, snapshot: Snapshot, group_ids: list[str]) -> dict[str, set[str]]:
        def members(gid: str) -> list[tuple[str, str]]:
            pages = self.client.pages_token(f"groups/{quote(gid, safe='')}/members",
                                            {"maxResults": MEMBERS_PAGE}, items_field="members")
            return [(m.get("type", "USER"), m["id"]) for page in pages for m in page]

        parents: dict[str, set[str]] = {}
        for gid, items, error in self.client.map_concurrent(members, group_ids):
            if error:
                snapshot.mark_incomplete(f"reading members of group {gid}: {error.message}")
                continue
            for member_type, member_id in items or []:
                if member_type == "GROUP":
                    parents.setdefault(member_id, set()).add(gid)
                elif member_type == "USER":  # CUSTOMER (everyone) is not a person to sync
                    snapshot.add_member(gid, member_id)
        return parents


    # -- one user, one group -----------------------------------------------------------

    def fetch_user(self, user_id: str) -> UserSlice:
        """users.get, then groups.list?userKey= for the user and again for each group's parents."""
        item = self.get_or_none(f"users/{quote(user_id, safe='')}", {"projection": "basic"})
        if item is None:
            return UserSlice(user_id, None)
        groups = with_parents(self._groups_of(user_id), lambda g: [
            gid for gid, _ in self._groups_of(g)], self.client.map_concurrent)
        return UserSlice(user_id, strict(to_user, item, "user", self.label), groups)

    def fetch_group(self, group_id: str) -> GroupSlice:
        """groups.get, its parents (groups.list?userKey=), and members.list with each USER
        member read by users.get (a member entry has no name)."""
        gkey = quote(group_id, safe="")
        item = self.get_or_none(f"groups/{gkey}")
        if item is None:
            return GroupSlice(group_id, None)
        parents = tuple(sorted(gid for gid, _ in self._groups_of(group_id)))
        group = strict(lambda g: Group(g["id"], g.get("name") or g.get("email") or g["id"],
                                       parents), item, "group", self.label)
        pages = self.client.pages_token(f"groups/{gkey}/members", {"maxResults": MEMBERS_PAGE},
                                        items_field="members")
        user_ids = [strict(lambda m: m["id"], m, "member", self.label)
                    for page in pages for m in page if m.get("type", "USER") == "USER"]
        found = every(self.client.map_concurrent(
            lambda uid: self.get_or_none(f"users/{quote(uid, safe='')}",
                                         {"projection": "basic"}), user_ids))
        # a member deleted between the two reads is no longer a member
        members = tuple(strict(to_user, u, "user", self.label) for _, u in found if u)
        return GroupSlice(group_id, group, members)

    def _groups_of(self, key: str) -> list[tuple[str, str]]:
        """(id, name) of the groups a user or group is a direct member of."""
        pages = self.client.pages_token("groups", {"userKey": key, "maxResults": GROUPS_PAGE},
                                        items_field="groups")
        return [strict(lambda g: (g["id"], g.get("name") or g.get("email") or g["id"]), g,
                       "group", self.label) for page in pages for g in page]


def to_user(item: dict[str, Any]) -> User:
    """A User from a Directory API user; suspended and archived users are inactive."""
    name = item.get("name") or {}
    return User(id=item["id"], email=item.get("primaryEmail") or "",
                display_name=name.get("fullName") or " ".join(
                    p for p in (name.get("givenName"), name.get("familyName")) if p),
                active=not (item.get("suspended") or item.get("archived")))
