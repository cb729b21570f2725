"""The state of one sandbox Atlassian Cloud site: users, groups, memberships, admins, org."""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

# Groups that grant product access or admin rights on a fresh Cloud site.
PRODUCT_GROUPS = {"jira-software": "jira-software-users", "confluence": "confluence-users"}
# The `products` values POST /rest/api/3/user accepts (NewUserDetails in the v3 spec), and the
# access group each one grants; a site licenses only some of them.
JIRA_PRODUCTS = {"jira-software": "jira-software-users", "jira-core": "jira-core-users",
                 "jira-servicedesk": "jira-servicemanagement-users",
                 "jira-product-discovery": "jira-product-discovery-users"}
ADMIN_GROUPS = ("site-admins", "jira-admins")
DEFAULT_GROUPS = (*PRODUCT_GROUPS.values(), *ADMIN_GROUPS)
# Global permissions a fresh site grants to groups (Jira: Settings > System > Global
# permissions); any group can be granted one later (`grant_global`).
DEFAULT_GLOBAL_GRANTS = {"ADMINISTER": ADMIN_GROUPS, "SYSTEM_ADMIN": ("site-admins",)}
EVERYONE_PERMISSIONS = frozenset({"USER_PICKER"})  # granted to every active user here
GLOBAL_PERMISSIONS = ("ADMINISTER", "SYSTEM_ADMIN", "USER_PICKER", "CREATE_SHARED_OBJECTS",
                      "MANAGE_GROUP_FILTER_SUBSCRIPTIONS", "BULK_CHANGE")
ACCOUNT_TYPES = ("atlassian", "app", "customer")
# Member lists of groups at least this big are cached between pages, so reading a huge
# group page by page stays linear; smaller ones are rebuilt each time so that tests which
# edit SiteUser fields directly always see their edit.
MEMBER_CACHE_MIN = 1000


SYNCED_GROUP = ("You can't add a user to a group synced from an identity provider. Manage "
                "this group in your identity provider instead.")


class SiteError(Exception):
    """A request the site refuses; `status` is the HTTP status a real site would answer."""

    status = 400


class NotFound(SiteError):
    status = 404


class Invalid(SiteError):
    status = 400


class LicenceExceeded(SiteError):
    """The product's licence has no free seat (Jira answers the identity platform's shape)."""

    status = 400


T = TypeVar("T")


def _found(table: dict[str, T], key: str | None, missing: str) -> T:
    """`table[key]`, or the 404 Atlassian answers with `missing`."""
    if key is None or key not in table:
        raise NotFound(missing)
    return table[key]


@dataclass
class SiteUser:
    account_id: str
    email: str
    display_name: str
    account_type: str = "atlassian"
    active: bool = True
    suspended: bool = False
    api_token: str | None = None
    # profile visibility "only me": the address is left out of answers, but an exact
    # e-mail search still finds the account (Atlassian's documented behaviour)
    email_hidden: bool = False
    # API tokens expire (a year at most since 2024; the admin picks a date): epoch seconds
    api_token_expires_at: float | None = None
    # None: a classic API token (sent to the site URL); a set: a token created "with scopes",
    # which Atlassian accepts only through api.atlassian.com/ex/{product}/{cloudId}
    api_token_scopes: frozenset[str] | None = None

    @property
    def is_active(self) -> bool:
        return self.active and not self.suspended


@dataclass
class SiteGroup:
    group_id: str
    name: str
    # dict keeps insertion order, so member pages stay stable between calls
    members: dict[str, None] = field(default_factory=dict)
    # provisioned by Atlassian's own IdP sync (user provisioning / SCIM): read-only here
    external_synced: bool = False


def _account_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


class Site:
    """Users, groups and memberships of one site; every public method takes the lock."""

    def __init__(self, *, name: str = "sandbox", seed: int = 1):
        self.name = name
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.cloud_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.org_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.users: dict[str, SiteUser] = {}
        self.groups: dict[str, SiteGroup] = {}
        self._by_name: dict[str, str] = {}  # lower-cased name -> groupId
        self._by_email: dict[str, str] = {}
        self._sorted: list[SiteGroup] | None = None
        self._version = 0  # bumped by every membership or activity change
        self._member_cache: dict[tuple[str, bool], tuple[tuple[int, int], list[str]]] = {}
        self.global_grants: dict[str, set[str]] = {p: set() for p in GLOBAL_PERMISSIONS}
        self.directory_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.products = {"jira", "confluence"}  # a Confluence-only site has no /rest/api/3
        self.licensed_products = {"jira-software"}  # Jira products this site has (and Confluence)
        self.seats: dict[str, int] = {}  # access group name -> licensed seats (absent: unlimited)
        self.org_paid = True  # the org API's invite needs at least one paid subscription
        for name_ in DEFAULT_GROUPS:
            self.add_group(name_)
        for permission, names in DEFAULT_GLOBAL_GRANTS.items():
            for name_ in names:
                self.grant_global(permission, name_)

    # -- users ---------------------------------------------------------------------------
    def add_user(self, email: str, display_name: str = "", *, account_id: str | None = None,
                 account_type: str = "atlassian", active: bool = True,
                 api_token: str | None = None, products: tuple[str, ...] = ()) -> SiteUser:
        if account_type not in ACCOUNT_TYPES:
            raise Invalid(f"accountType must be one of {', '.join(ACCOUNT_TYPES)}")
        with self.lock:
            if email and email.lower() in self._by_email:
                raise Invalid(f"A user with email address '{email}' already exists.")
            user = SiteUser(account_id or _account_id(self.rng), email,
                            display_name or email.split("@")[0], account_type, active,
                            api_token=api_token)
            self.users[user.account_id] = user
            if email:
                self._by_email[email.lower()] = user.account_id
            for product in products:
                self.add_member(self.group_by_name(PRODUCT_GROUPS[product]).group_id,
                                user.account_id)
            return user

    def user(self, account_id: str) -> SiteUser:
        with self.lock:
            return _found(self.users, account_id,
                          f"User with accountId '{account_id}' does not exist.")

    def user_by_email(self, email: str) -> SiteUser | None:
        with self.lock:
            account_id = self._by_email.get(email.lower())
            return self.users[account_id] if account_id else None

    def user_by_token(self, email: str, token: str, now: float) -> SiteUser | None:
        """The account whose unexpired API token this is."""
        user = self.user_by_email(email)
        if not (user and user.api_token and user.api_token == token):
            return None
        expires = user.api_token_expires_at
        return user if expires is None or now < expires else None

    def search_users(self, query: str) -> list[SiteUser]:
        """Active accounts only (as the v3 spec says of user/search): an exact e-mail match,
        else a prefix of the display name or of a visible e-mail."""
        q = query.strip().lower()
        with self.lock:
            exact = self.user_by_email(q)
            if exact:
                return [exact] if exact.is_active else []
            return [u for u in self.users.values() if q and u.is_active and (
                u.display_name.lower().startswith(q)
                or (not u.email_hidden and u.email.lower().startswith(q)))]

    def org_search(self, emails: list[str], account_ids: list[str],
                   group_ids: list[str] | None = None) -> list[SiteUser]:
        """The org API's exact-match user search: every account, active or not, hidden or not;
        with `group_ids`, members of any of those groups only."""
        with self.lock:
            wanted_emails = {e.lower() for e in emails}
            group_ids = group_ids or []
            in_groups = {a for g in group_ids if g in self.groups for a in self.groups[g].members}
            return [u for u in self.users.values()
                    if (not wanted_emails or u.email.lower() in wanted_emails)
                    and (not account_ids or u.account_id in account_ids)
                    and (not group_ids or u.account_id in in_groups)]

    def has_jira_access(self, account_id: str) -> bool:
        with self.lock:
            return any(account_id in self.groups[self._by_name[name]].members
                       for name in JIRA_PRODUCTS.values() if name in self._by_name)

    def user_page(self, start: int, limit: int) -> list[SiteUser]:
        with self.lock:
            return list(itertools.islice(self.users.values(), start, start + limit))

    def set_suspended(self, account_id: str, suspended: bool) -> None:
        with self.lock:
            self.user(account_id).suspended = suspended
            self._version += 1

    def grant_products(self, account_id: str, products: list[str]) -> None:
        """Add the user to each product's access group (no error if already there)."""
        with self.lock:
            for product in products:
                group = self.group_by_name({**PRODUCT_GROUPS, **JIRA_PRODUCTS}[product])
                if account_id not in group.members:
                    self._take_seat(group)
                group.members.setdefault(self.user(account_id).account_id, None)
            self._version += 1

    def _take_seat(self, group: SiteGroup) -> None:
        seats = self.seats.get(group.name)
        if seats is not None and len(group.members) >= seats:
            raise LicenceExceeded(f"Adding this user to '{group.name}' would exceed the "
                                  f"number of licensed users ({seats}).")

    def remove_access(self, account_id: str) -> None:
        """Org admin 'remove user': out of every group and no longer active on the site."""
        with self.lock:
            user = self.user(account_id)
            for group in self.groups.values():
                group.members.pop(account_id, None)
            user.active = False
            self._version += 1

    def grant_global(self, permission: str, group_name: str) -> None:
        """Grant a global permission to a group, as a Jira admin does in the global settings."""
        with self.lock:
            if permission not in self.global_grants:
                raise Invalid(f"Unrecognized global permission: {permission}")
            self.global_grants[permission].add(self.group_by_name(group_name).group_id)

    def global_permissions(self, account_id: str) -> set[str]:
        """The global permissions an account holds through its groups (none while inactive)."""
        with self.lock:
            if not self.user(account_id).is_active:
                return set()
            return {p for p, gids in self.global_grants.items()
                    if any(account_id in self.groups[g].members for g in gids)} | EVERYONE_PERMISSIONS

    def is_admin(self, account_id: str) -> bool:
        with self.lock:
            return "ADMINISTER" in self.global_permissions(account_id)

    def is_site_admin(self, account_id: str) -> bool:
        """A member of site-admins: only such an account can invite people with access."""
        with self.lock:
            return account_id in self.group_by_name("site-admins").members

    def make_admin(self, account_id: str) -> None:
        with self.lock:
            for name_ in ADMIN_GROUPS:
                self.group_by_name(name_).members[self.user(account_id).account_id] = None
            self._version += 1

    # -- groups --------------------------------------------------------------------------
    def add_group(self, name: str, group_id: str | None = None) -> SiteGroup:
        name = (name or "").strip()
        if not name:
            raise Invalid("You must specify a group name.")
        with self.lock:
            if name.lower() in self._by_name:
                raise Invalid(f"Group '{name}' already exists.")
            group = SiteGroup(group_id or str(uuid.UUID(int=self.rng.getrandbits(128),
                                                        version=4)), name)
            self.groups[group.group_id] = group
            self._by_name[name.lower()] = group.group_id
            self._sorted = None
            return group

    def group(self, group_id: str) -> SiteGroup:
        with self.lock:
            return _found(self.groups, group_id, f"Specified group does not exist: {group_id}")

    def group_by_name(self, name: str) -> SiteGroup:
        with self.lock:
            return _found(self.groups, self._by_name.get((name or "").lower()),
                          f"Specified group does not exist: {name}")

    def delete_group(self, group_id: str, swap_group_id: str | None = None) -> None:
        with self.lock:
            group = self.group(group_id)
            if swap_group_id:
                if swap_group_id == group_id:
                    raise Invalid("You cannot swap a group with itself.")
                self.group(swap_group_id)
            del self.groups[group_id]
            del self._by_name[group.name.lower()]
            for holders in self.global_grants.values():
                holders.discard(group_id)
            self._sorted = None
            self._version += 1

    def find_groups(self, ids: list[str], names: list[str]) -> list[SiteGroup]:
        """Groups with any of these ids or (case-insensitive) names; unknown ones skipped."""
        with self.lock:
            found = [self.groups[i] for i in ids if i in self.groups]
            found += [self.groups[self._by_name[n.lower()]] for n in names
                      if n.lower() in self._by_name]
            return found

    def sorted_groups(self) -> list[SiteGroup]:
        """Groups by name, cached until the next create/delete so paging stays linear."""
        with self.lock:
            if self._sorted is None:
                self._sorted = sorted(self.groups.values(), key=lambda g: g.name.lower())
            return self._sorted

    def add_member(self, group_id: str, account_id: str) -> None:
        with self.lock:
            group, user = self.group(group_id), self.user(account_id)
            if group.external_synced:
                raise Invalid(SYNCED_GROUP)
            if user.account_id in group.members:
                raise Invalid(f"Cannot add user. User is already a member of '{group.name}'")
            self._take_seat(group)
            group.members[user.account_id] = None
            self._version += 1

    def remove_member(self, group_id: str, account_id: str) -> None:
        with self.lock:
            group, user = self.group(group_id), self.user(account_id)
            if group.external_synced:
                raise Invalid(SYNCED_GROUP)
            if user.account_id not in group.members:
                raise Invalid(f"Cannot remove user. User is not a member of '{group.name}'")
            del group.members[user.account_id]
            self._version += 1

    def members(self, group_id: str, include_inactive: bool = True) -> list[SiteUser]:
        with self.lock:
            users = [self.users[a] for a in self.group(group_id).members]
            return users if include_inactive else [u for u in users if u.is_active]

    def member_page(self, group_id: str, include_inactive: bool, start: int,
                    limit: int) -> tuple[list[SiteUser], int]:
        """One page of a group's members and the total, without re-listing big groups."""
        with self.lock:
            group = self.group(group_id)
            stamp = (self._version, len(group.members))
            key = (group_id, include_inactive)
            cached = self._member_cache.get(key)
            if cached is None or cached[0] != stamp or len(group.members) < MEMBER_CACHE_MIN:
                ids = [a for a in group.members
                       if include_inactive or self.users[a].is_active]
                cached = (stamp, ids)
                if len(group.members) >= MEMBER_CACHE_MIN:
                    self._member_cache[key] = cached
            ids = cached[1]
            return [self.users[a] for a in ids[start:start + limit]], len(ids)

    def user_groups(self, account_id: str) -> list[SiteGroup]:
        with self.lock:
            self.user(account_id)
            return [g for g in self.sorted_groups() if account_id in g.members]

    # -- seeding -------------------------------------------------------------------------
    def load(self, seed: dict[str, Any]) -> None:
        """Add users and groups from a dict shaped like Atlassian's own JSON."""
        with self.lock:
            for u in seed.get("users", []):
                if not isinstance(u, dict) or not isinstance(u.get("emailAddress"), str):
                    raise Invalid(f"seed user {u!r} needs an emailAddress")
                user = self.add_user(u["emailAddress"], u.get("displayName", ""),
                                     account_id=u.get("accountId"),
                                     account_type=u.get("accountType", "atlassian"),
                                     active=u.get("active", True), api_token=u.get("apiToken"))
                user.email_hidden = bool(u.get("emailHidden"))
                if isinstance(u.get("apiTokenScopes"), list):
                    user.api_token_scopes = frozenset(map(str, u["apiTokenScopes"]))
            for g in seed.get("groups", []):
                if not isinstance(g, dict) or not isinstance(g.get("name"), str):
                    raise Invalid(f"seed group {g!r} needs a name")
                try:
                    group = self.group_by_name(g["name"])
                except NotFound:
                    group = self.add_group(g["name"], g.get("groupId"))
                group.external_synced = bool(g.get("externalSynced"))
                for account_id in g.get("members", []):
                    group.members[self.user(account_id).account_id] = None
            for account_id in seed.get("siteAdmins", []):
                self.make_admin(account_id)
            for permission, names in (seed.get("globalPermissions") or {}).items():
                for name_ in names:
                    self.grant_global(permission, name_)
            self._version += 1

    def generate(self, users: int, groups: int, memberships: int, *, seed: int = 1) -> None:
        """N users, G groups and about M memberships spread evenly, reproducible by seed."""
        rng = random.Random(seed)
        with self.lock:
            ids = [self.add_user(f"user{i:06d}@example.com", f"User {i:06d}",
                                 account_id=_account_id(rng)).account_id
                   for i in range(users)]
            per_group = min(memberships // groups, users) if groups and users else 0
            for j in range(groups):
                group = self.add_group(f"group-{j:05d}",
                                       str(uuid.UUID(int=rng.getrandbits(128), version=4)))
                for account_id in rng.sample(ids, per_group):
                    group.members[account_id] = None
            self._version += 1

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {"users": len(self.users), "groups": len(self.groups),
                    "memberships": sum(len(g.members) for g in self.groups.values())}
