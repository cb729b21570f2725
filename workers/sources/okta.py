"""Okta source: SSWS token or OAuth service app (private_key_jwt, DPoP), Link paging, changes by lastUpdated and the group list."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workers.sources.base import (
    PendingChanges,
    SourceConfigError,
    SourceError,
    SourcePermissionError,
)
from workers.sources.http import (
    Auth,
    ClientCredentialsAuth,
    HttpClient,
    HttpSource,
    StaticAuth,
    Token,
    convert,
    copy_snapshot,
    drain,
    incomplete_copy,
    response_detail,
    token_from_response,
    workers_field,
)
from workers.sources.okta_changes import (
    OktaCursor,
    after,
    fresh,
    groups_digest,
    parse_cursor,
    seen_after,
    stamp,
)
from workers.sources.records import strict
from workers.sync.model import Group, GroupSlice, Snapshot, User, UserSlice

USERS_PAGE, GROUPS_PAGE, MEMBERS_PAGE = 200, 10000, 1000  # Okta's largest `limit` per list
USER_GROUPS_PAGE = 200  # /users/{id}/groups pages at most 200
CLOCK_MARGIN = 300.0  # seconds of overlap so clock skew between us and Okta loses nothing


class OktaSettings(Schema):
    """What the admin types to connect an Okta org."""

    org_url = fields.Url(required=True, require_tld=False, schemes={"https", "http"}, metadata={
        "label": "Okta org URL", "secret": False, "help": "e.g. https://acme.okta.com"})
    auth_method = fields.String(load_default="api_token",
                                validate=validate.OneOf(["api_token", "oauth"]), metadata={
        "label": "Authentication", "secret": False,
        "help": "api_token: an SSWS API token; oauth: an API service app with a private key."})
    api_token = fields.String(load_default=None, metadata={
        "label": "API token", "secret": True, "help": "Created by a read-only admin."})
    client_id = fields.String(load_default=None, metadata={
        "label": "Service app client ID", "secret": False,
        "help": "Granted okta.users.read and okta.groups.read."})
    private_key = fields.String(load_default=None, metadata={
        "label": "Private key (PEM)", "secret": True,
        "help": "The key whose public half is registered on the service app."})
    key_id = fields.String(load_default=None, metadata={
        "label": "Key ID", "secret": False, "help": "The kid of that key, when it has one."})
    dpop = fields.Boolean(load_default=True, metadata={
        "label": "Require DPoP", "secret": False,
        "help": "On for service apps created with 'Require DPoP header' (Okta's default)."})
    workers = workers_field(8, "Okta allows about 75 concurrent requests per org")

    @validates_schema
    def _credentials_present(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("auth_method") == "oauth":
            missing = [f for f in ("client_id", "private_key") if not data.get(f)]
            if missing:
                raise ValidationError({f: ["Required for OAuth."] for f in missing})
            try:
                load_pem_private_key(data["private_key"].encode(), password=None)
            except (ValueError, TypeError):
                raise ValidationError({"private_key": ["Not an unencrypted PEM private key."]}
                                      ) from None
        elif not data.get("api_token"):
            raise ValidationError({"api_token": ["Required for API-token authentication."]})


class DpopKey:
    """A per-connection P-256 key that signs DPoP proofs (RFC 9449) for Okta."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)

    def proof(self, method: str, url: str, *, nonce: str | None = None,
              access_token: str | None = None) -> str:
        claims: dict[str, Any] = {"htm": method, "htu": url.split("?", 1)[0],
                                  "iat": int(time.time()), "jti": str(uuid.uuid4())}
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return jwt.encode(claims, self._key, algorithm="ES256",
                          headers={"typ": "dpop+jwt", "jwk": self.jwk})


class OktaServiceAuth(ClientCredentialsAuth):
    """An API service app: private_key_jwt client assertion, DPoP-bound tokens with nonce retry."""

    def __init__(self, token_url: str, client_id: str, private_key: str, *,
                 key_id: str | None = None, dpop: bool = True):
        super().__init__(token_url, client_id, private_key=private_key, key_id=key_id,
                         scope="okta.users.read okta.groups.read")
        self.dpop = DpopKey() if dpop else None
        self.nonce: str | None = None

    def request_token(self, client: HttpClient) -> Token:
        for _ in range(2):  # the first DPoP call is expected to earn a nonce
            form, _basic = self.form()
            headers = ({"DPoP": self.dpop.proof("POST", self.token_url, nonce=self.nonce)}
                       if self.dpop else {})
            response = client.post_token(self.token_url, form, headers=headers)
            if (self.dpop and response.status_code == 400 and response.headers.get("DPoP-Nonce")
                    and _oauth_error(response) == "use_dpop_nonce"):
                self.nonce = response.headers["DPoP-Nonce"]
                continue
            break
        if response.status_code >= 300:
            raise self.token_error(client, response)
        return token_from_response(client.decode(response))

    def headers(self, client: HttpClient, method: str, url: str) -> dict[str, str]:
        token = self.token(client)
        if not self.dpop:
            return {"Authorization": f"Bearer {token.value}"}
        return {"Authorization": f"DPoP {token.value}",
                "DPoP": self.dpop.proof(method, url, access_token=token.value)}

    def token_error(self, client: HttpClient, response: Any) -> SourceError:
        code = _oauth_error(response)
        if code == "invalid_scope":
            return SourcePermissionError(
                f"The service app is not granted okta.users.read and okta.groups.read"
                f"{response_detail(response)}.")
        if code == "invalid_dpop_proof":
            return SourceConfigError(
                f"Okta rejected the DPoP proof{response_detail(response)}: check the app's "
                f"'Require DPoP header' setting against ours.")
        return super().token_error(client, response)


def _oauth_error(response: Any) -> str:
    try:
        return str(response.json().get("error") or "")
    except (ValueError, AttributeError):
        return ""


class OktaSource(HttpSource):
    """Reads users, groups and group members of one Okta org."""

    kind = "okta"
    label = "Okta"
    settings_schema = OktaSettings
    supports_incremental = True
    supports_targeted = True

    def make_client(self) -> HttpClient:
        s = self.settings
        base = s["org_url"].rstrip("/")
        auth: Auth
        if s.get("auth_method") == "oauth":
            auth = OktaServiceAuth(f"{base}/oauth2/v1/token", s["client_id"], s["private_key"],
                                   key_id=s.get("key_id"), dpop=bool(s.get("dpop", True)))
        else:
            auth = StaticAuth(f"SSWS {s['api_token']}")
        return self.new_client(f"{base}/api/v1/", auth)

    def check(self) -> str:
        self.client.get_json("users", {"limit": 1})
        self.client.get_json("groups", {"limit": 1})
        return f"Connected to {self.settings['org_url']}: users and groups are readable."

    def fetch(self) -> Snapshot:
        snapshot = Snapshot()
        since = stamp(time.time() - CLOCK_MARGIN)  # taken first: nothing changed during the read is lost
        users = drain(self._pages("users", limit=USERS_PAGE), snapshot, "users")
        for user in convert(users, to_user, snapshot, "user"):
            snapshot.add_user(user)
        groups = drain(self._pages("groups", limit=GROUPS_PAGE), snapshot, "groups")
        for group in convert(groups, to_group, snapshot, "group"):
            snapshot.add_group(group)
        self._read_members(snapshot, list(snapshot.groups))
        snapshot.cursor = OktaCursor(since, groups_digest(groups), seen_after(users, since)).encode()
        return snapshot

    def _pages(self, path: str, **params: Any) -> Iterator[list]:
        """Okta answers every list with a bare JSON array and a Link header."""
        return self.client.pages_link(path, params, items=lambda body: body)

    def _read_members(self, snapshot: Snapshot, group_ids: list[str]) -> None:
        def members(gid: str) -> set[str]:
            pages = self._pages(f"groups/{gid}/users", limit=MEMBERS_PAGE)
            return {u["id"] for page in pages for u in page}

        for gid, ids, error in self.client.map_concurrent(members, group_ids):
            if error:
                snapshot.mark_incomplete(f"reading members of group {gid}: {error.message}")
            else:
                snapshot.members[gid] = ids or set()

    # -- one user, one group ---------------------------------------------------------------

    def fetch_user(self, user_id: str) -> UserSlice:
        """GET /users/{id}, then /users/{id}/groups (Okta groups are flat: no parents)."""
        item = self.get_or_none(f"users/{quote(user_id, safe='')}")
        if item is None:
            return UserSlice(user_id, None)
        user = strict(to_user, item, "user", self.label)
        groups = [strict(to_group, g, "group", self.label) for page in self._pages(
            f"users/{quote(user_id, safe='')}/groups", limit=USER_GROUPS_PAGE) for g in page]
        return UserSlice(user_id, user, tuple(groups))

    def fetch_group(self, group_id: str) -> GroupSlice:
        """GET /groups/{id}, then every page of /groups/{id}/users."""
        item = self.get_or_none(f"groups/{quote(group_id, safe='')}")
        if item is None:
            return GroupSlice(group_id, None)
        members = [strict(to_user, u, "user", self.label) for page in self._pages(
            f"groups/{quote(group_id, safe='')}/users", limit=MEMBERS_PAGE) for u in page]
        return GroupSlice(group_id, strict(to_group, item, "group", self.label), tuple(members))

    # -- changes ---------------------------------------------------------------------------

    def fetch_changes(self, previous: Snapshot, cursor: str) -> Snapshot:
        pending = self.read_changes(cursor)
        return self.fetch() if pending is None else pending.apply(previous)

    def read_changes(self, cursor: str) -> PendingChanges | None:
        """The users search since the cursor and the (cheap) group list, read first: no fresh
        user and the same group list mean nothing changed. Deleted groups show as missing from
        the list, which is why it is read whole."""
        last = parse_cursor(cursor)
        if last is None:
            return None
        probe = Snapshot()
        since = max(stamp(time.time() - CLOCK_MARGIN), last.since)  # before reading: lose nothing
        search = f'lastUpdated gt "{last.since}"'
        user_items = drain(self._pages("users", search=search, limit=USERS_PAGE), probe,
                           "changed users")
        group_items = drain(self._pages("groups", limit=GROUPS_PAGE), probe, "groups")
        if not probe.complete:
            message = "; ".join(probe.errors)
            return PendingChanges(False, None, lambda previous: incomplete_copy(previous, message))
        users = fresh(user_items, last.seen)
        digest = groups_digest(group_items)
        new_cursor = OktaCursor(since, digest, seen_after(user_items, since)).encode()
        groups_same = digest == last.groups
        return PendingChanges(
            not users and groups_same, new_cursor,
            lambda previous: self._applied(previous, users, None if groups_same else group_items,
                                           last.since, new_cursor))

    def _applied(self, previous: Snapshot, user_items: list[dict[str, Any]],
                 group_items: list[dict[str, Any]] | None, since: str, cursor: str) -> Snapshot:
        """`previous` with the changed users and, when the group list changed, its groups;
        members are read again for new groups and those with a later lastMembershipUpdated."""
        if not previous.complete:
            return self.fetch()
        snapshot = copy_snapshot(previous)
        for user in convert(user_items, to_user, snapshot, "user"):
            snapshot.add_user(user)
        if group_items is not None:
            current = {g.id: g for g in convert(group_items, to_group, snapshot, "group")}
            stamps = {g.get("id"): g.get("lastMembershipUpdated") for g in group_items}
            snapshot.groups = {}
            snapshot.members = {gid: ids for gid, ids in snapshot.members.items()
                                if gid in current}
            for group in current.values():
                snapshot.add_group(group)
            self._read_members(snapshot, [gid for gid in current if gid not in previous.groups
                                          or after(stamps.get(gid), since)])
        snapshot.cursor = cursor
        return snapshot


def to_user(item: dict[str, Any]) -> User:
    """A User from an Okta user; only ACTIVE-like statuses count as active."""
    profile = item.get("profile") or {}
    name = " ".join(p for p in (profile.get("firstName"), profile.get("lastName")) if p)
    return User(id=item["id"], email=profile.get("email") or profile.get("login") or "",
                display_name=name or profile.get("login") or "",
                active=item.get("status") in ("ACTIVE", "PASSWORD_EXPIRED", "RECOVERY",
                                              "LOCKED_OUT", "PROVISIONED"))


def to_group(item: dict[str, Any]) -> Group:
    """Okta groups are flat."""
    return Group(id=item["id"], name=(item.get("profile") or {}).get("name") or item["id"])
