"""One Atlassian site as the sync sees it: the AtlassianTarget over Jira or Confluence, idempotent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from requests.auth import AuthBase

from app.config import DEFAULT_CONCURRENCY
from workers.atlassian import products
from workers.atlassian.budget import AppBudget
from workers.atlassian.clients import Clients, send
from workers.atlassian.errors import (
    CONFLUENCE_BARE_500,
    ORG_KEY_HINT,
    WRITE_CREDENTIAL_HINT,
    BadRequestError,
    ConflictError,
    LicenceExceededError,
    MissingCredentialError,
    NotFoundError,
    PermissionDenied,
)
from workers.atlassian.http import Transport, json_body
from workers.atlassian.memberships import MembershipOp, MembershipResult, apply_all
from workers.atlassian.org_writes import OrgWrites
from workers.atlassian.paging import all_pages, org_cursor_page
from workers.atlassian.target import AtlassianGroup, AtlassianUser

ALREADY_MEMBER, NOT_MEMBER, GROUP_EXISTS = (products.ALREADY_MEMBER, products.NOT_MEMBER,
                                            products.GROUP_EXISTS)


@dataclass(frozen=True, slots=True)
class Access:
    """A base URL and the auth that goes with it (site URL + JWT/Basic, or the OAuth gateway)."""

    base_url: str
    auth: AuthBase
    label: str  # what the admin connected, for messages: "Connect app", "OAuth", "API token"
    may_write: bool = True  # False: known to be refused group writes (a Forge app's own token)
    app_traffic: bool = True  # counts against the app's hourly points (API tokens do not)


@dataclass(frozen=True, slots=True)
class OrgAccess:
    api_base: str
    org_id: str
    auth: AuthBase


class AtlassianSite:
    """Implements `AtlassianTarget` for one site; thread-safe (share one per sync).

    `read` is the app's own identity (Connect JWT); `write` the site-admin credential
    (OAuth or API token), None when the admin has not connected one: writes are then
    tried with the read identity and a refusal says what to connect. `org` (the
    organization API key) suspends and restores, finds inactive accounts, tells synced
    groups, and is the write path (groups, members, invites) when `org_writes` says so:
    by default when no product write credential is connected.
    """

    def __init__(self, product: str, transport: Transport, read: Access,
                 write: Access | None = None, org: OrgAccess | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY, budget: AppBudget | None = None,
                 org_writes: bool | None = None) -> None:
        if product not in products.PRODUCTS:
            raise ValueError(f"product must be jira or confluence, not {product!r}")
        self.product = products.PRODUCTS[product]
        self.transport, self.read, self.write, self.org = transport, read, write, org
        self.concurrency = max(1, concurrency)
        self.budget = budget
        self._lock = threading.Lock()
        self._clients = Clients(transport)
        self._directory_ids: list[str] | None = None
        self._org_writes = OrgWrites(org.org_id, self._org_send,
                                     lambda: self._directories(org)) if org else None
        # one org API key writes for Jira, Confluence and Forge installations alike
        self.writes_via_org = org is not None and (
            org_writes if org_writes is not None else write is None)

    # -- reads ------------------------------------------------------------------------
    def list_groups(self) -> list[AtlassianGroup]:
        return self._all_pages(self.product.groups, self.product.parse_group)

    def groups_named(self, ids: Iterable[str], names: Iterable[str]) -> list[AtlassianGroup]:
        """The site's groups with these ids or names. Jira filters group/bulk by both, a few
        dozen a call; Confluence v1 has no such filter, so it lists every group."""
        if not isinstance(self.product, products.Jira):
            return self.list_groups()
        found: dict[str, AtlassianGroup] = {}
        for chunk_ids, chunk_names in _filter_chunks(sorted(set(ids)), sorted(set(names))):
            for group in self._all_pages(
                    lambda start, i=chunk_ids, n=chunk_names: self.product.groups_filtered(
                        i, n, start), self.product.parse_group):
                found[group.group_id] = group
        return list(found.values())

    def synced_groups(self, ids: Iterable[str], names: Iterable[str]) -> set[str]:
        """GroupIds among these that the organization reports as synced from an identity
        provider; without an organization API key the product APIs cannot tell, so none."""
        if self.org is None:
            return set()
        synced: set[str] = set()
        for field, values in (("ids", sorted(set(ids))), ("names", sorted(set(names)))):
            for start in range(0, len(values), products.ORG_GROUP_PAGE):
                chunk = values[start:start + products.ORG_GROUP_PAGE]
                # "" is the first page: the org API takes no cursor then
                found = all_pages(lambda cursor, c=chunk, f=field: self._org(
                    products.org_find_groups(self.org.org_id, cursor=cursor or None, **{f: c})),
                    org_cursor_page, "")
                synced.update(str(item["id"]) for item in found
                              if products.org_synced(item) and item.get("id"))
        return synced

    def group_members(self, group_id: str) -> list[AtlassianUser]:
        return self._all_pages(lambda start: self.product.members(group_id, start),
                               self.product.parse_user)

    def user_groups(self, account_id: str) -> list[AtlassianGroup]:
        return self._all_pages(lambda start: self.product.user_groups(account_id, start),
                               self.product.parse_group)

    def find_user_by_email(self, email: str) -> AtlassianUser | None:
        """The account with exactly this e-mail. The product search sees active accounts
        with a visible address only; with an organization API key the org search also finds
        suspended, inactive and hidden-address accounts, which are then linked (and restored
        where the policy says) instead of invited a second time."""
        if "@" not in (email or ""):
            raise ValueError(f"not an e-mail address: {email!r}")
        found = None
        platform = self._platform(reading=True)
        if platform is not None:
            try:
                found = products.pick_user(self._json(platform, products.find_user(email)), email)
            except NotFoundError:  # a Confluence-only site has no platform REST API
                found = None
        if found is None and self.org is not None:
            call = products.org_find_user(self.org.org_id, email)
            found = products.org_pick_user(self._org(call), email)
        return found

    def is_site_admin(self, account_id: str) -> bool:
        """Jira's Administer Jira; a Confluence installation asks Confluence (its own JWT
        cannot call Jira, and a Confluence-only site has no Jira to ask)."""
        if self.product.name == "confluence":
            return products.grants_confluence_admin(
                self._json(self.read, products.confluence_admin_check(account_id)))
        body = self._json(self.read, products.admin_check(account_id))
        return "ADMINISTER" in (body.get("globalPermissions") or [])

    def _platform(self, reading: bool) -> Access | None:
        """How this installation reaches the site's platform REST API (/rest/api/3: e-mail
        search, invites). Jira's own installation does with its JWT (reads) and write
        credential; a Confluence installation's JWT and Confluence-scoped OAuth cannot, so it
        goes through a site-admin API token, which works wherever the site has Jira."""
        if self.product.name == "jira":
            return self.read if reading else self.write
        if self.write is not None and not self.write.app_traffic:
            return self.write
        return None

    def is_product_admin(self, account_id: str) -> bool:
        """Whether the account administers this product: Jira's ADMINISTER global permission,
        or Confluence's `administer` operation on the application (its own check)."""
        return self.is_site_admin(account_id)

    def check_write_access(self) -> str:
        """A harmless read with the write credential; the account it acts as (display name)."""
        if self.writes_via_org and self.org is not None:
            return f"organization {self.org.org_id} ({self.check_org_access()} directories)"
        if self.write is None:
            raise MissingCredentialError("check_write_credential",
                                         f"no write credential is connected: {WRITE_CREDENTIAL_HINT}")
        body = self._json(self.write, self.product.current_user())
        return str(body.get("displayName") or body.get("accountId") or "")

    # -- writes -----------------------------------------------------------------------
    def create_group(self, name: str) -> AtlassianGroup:
        name = (name or "").strip()
        if not name:
            raise ValueError("a group needs a name")
        if self.writes_via_org and self._org_writes:
            return self._org_writes.create_group(name)
        call = self.product.create_group(name)
        response = self._write(call, accept=lambda r: r.status_code == 400
                               and bool(GROUP_EXISTS.search(r.text)))
        if response.status_code < 300:
            return self.product.parse_group(json_body(call.operation, response))
        # created meanwhile by someone else (another worker, an admin): use that group
        existing = self.product.group_from_lookup(
            self._json(self.read, self.product.group_by_name(name)))
        if existing is None:
            raise ConflictError("create_group", f"group {name!r} exists but cannot be found",
                                remote_message=response.text[:200])
        return existing

    def add_member(self, group_id: str, account_id: str) -> None:
        if self.writes_via_org and self._org_writes:
            return self._org_writes.add_member(group_id, account_id)
        self._write(self.product.add_member(group_id, account_id),
                    accept=lambda r: r.status_code == 400 and bool(ALREADY_MEMBER.search(r.text)),
                    final=_bare_500 if self.product.name == "confluence" else None)

    def remove_member(self, group_id: str, account_id: str) -> None:
        if self.writes_via_org and self._org_writes:
            return self._org_writes.remove_member(group_id, account_id)
        self._write(self.product.remove_member(group_id, account_id),
                    accept=lambda r: r.status_code == 400 and bool(NOT_MEMBER.search(r.text)))

    def invite_user(self, email: str, display_name: str, products_: list[str]) -> AtlassianUser:
        if "@" not in (email or ""):
            raise ValueError(f"not an e-mail address: {email!r}")
        call = products.invite(email, display_name, products_)
        if self.writes_via_org and self._org_writes:
            return self._org_writes.invite_user(email, products_)
        if self.product.name == "confluence" and self._platform(reading=False) is None:
            if self._org_writes:  # Confluence has no invite: the organization's invite does
                return self._org_writes.invite_user(email, products_)
            raise MissingCredentialError(call.operation, CONFLUENCE_INVITE_HINT)
        try:
            user = products.jira_user(json_body(call.operation, self._write(call)))
        except NotFoundError as exc:
            if self.product.name != "confluence":
                raise
            if self._org_writes:  # a site without Jira: the organization's invite
                return self._org_writes.invite_user(email, products_)
            raise MissingCredentialError(call.operation, CONFLUENCE_INVITE_HINT,
                                         status=exc.status) from exc
        except BadRequestError as exc:
            if "does not have access" not in exc.remote_message:
                raise
            raise BadRequestError(call.operation, "the account exists without Jira access: "
                                  "name a Jira product to grant in the connection's invite "
                                  "products, or add it to a group by hand",
                                  status=exc.status, remote_message=exc.remote_message) from exc
        if not user.active:
            # Atlassian creates the account suspended when the inviter is not a site admin;
            # every further invite would do the same, so this stops the run
            raise MissingCredentialError(call.operation, f"{email} was created suspended because the "
                                   "write credential is not a site admin: "
                                   f"{WRITE_CREDENTIAL_HINT}", status=201)
        return user

    def apply_memberships(self, ops: list[MembershipOp]) -> list[MembershipResult]:
        """Adds and removes, run concurrently (bounded), one result per op in the same order."""
        return apply_all(self, ops, self.concurrency)

    # -- organization -----------------------------------------------------------------
    def suspend_access(self, account_id: str) -> None:
        self._in_each_directory(account_id, "suspend")

    def restore_access(self, account_id: str) -> None:
        self._in_each_directory(account_id, "restore")

    def _in_each_directory(self, account_id: str, action: str) -> None:
        """Suspend and restore are per directory in the org API v2; an org usually has one.
        A directory that does not hold the account answers 404, which is not a failure
        unless no directory holds it."""
        org = self._org_access()
        done = False
        last: NotFoundError | None = None
        for directory_id in self._directories(org):
            try:
                self._org(products.org_user(org.org_id, directory_id, account_id, action))
                done = True
            except NotFoundError as exc:
                last = exc
        if not done:
            raise last or NotFoundError(f"{action}_access", "the organization has no directory")

    def check_org_access(self) -> int:
        """A harmless read with the organization API key: how many directories it sees."""
        return len(self._directories(self._org_access()))

    def _directories(self, org: OrgAccess) -> list[str]:
        with self._lock:
            if self._directory_ids is None:
                body = self._org(products.org_directories(org.org_id))
                self._directory_ids = [str(d["directoryId"]) for d in body.get("data") or []
                                       if isinstance(d, dict) and d.get("directoryId")]
            return self._directory_ids

    # -- plumbing ---------------------------------------------------------------------
    def _all_pages(self, call_for: Callable[[int], products.Call],
                   parse: Callable[[Any], Any]) -> list[Any]:
        def read(body: Any, start: int) -> tuple[list[Any], int | None]:
            page = self.product.page(body, start, parse)
            return page.items, page.next_start

        return all_pages(lambda start: self._json(self.read, call_for(start)), read, 0)

    def _json(self, access: Access, call: products.Call) -> Any:
        return json_body(call.operation, self._send(access, call))

    def _send(self, access: Access, call: products.Call,
              accept: Callable[[requests.Response], bool] | None = None,
              final: Callable[[requests.Response], Any] | None = None) -> requests.Response:
        if self.budget is not None and access.app_traffic:
            self.budget.take(call.operation)
        client = self._clients.get(access, "confluence" if call.api == "confluence" else "jira",
                                   access.base_url, access.auth)
        return send(client, call.operation, call.invoke, call.method, call.path,
                    params=call.params, json=call.json, accept=accept, final=final)

    def _write(self, call: products.Call,
               accept: Callable[[requests.Response], bool] | None = None,
               final: Callable[[requests.Response], Any] | None = None) -> requests.Response:
        if self.write is not None:
            return self._send(self.write, call, accept, final)
        if not self.read.may_write:
            raise MissingCredentialError(
                call.operation, f"the {self.read.label} may not write groups or users: "
                f"{WRITE_CREDENTIAL_HINT}")
        try:
            return self._send(self.read, call, accept, final)
        except PermissionDenied as exc:
            raise MissingCredentialError(
                call.operation, f"the {self.read.label} may not write groups or users: "
                f"{WRITE_CREDENTIAL_HINT}", status=exc.status,
                remote_message=exc.remote_message) from exc

    def _org_access(self) -> OrgAccess:
        if self.org is None:
            raise MissingCredentialError("org_admin", f"suspending or restoring access needs "
                                                      f"the organization API key: {ORG_KEY_HINT}")
        return self.org

    def _org(self, call: products.Call) -> Any:
        """An organization API call; its JSON answer, or None for an empty one."""
        response = self._org_send(call)
        return json_body(call.operation, response) if response.content else None

    def _org_send(self, call: products.Call,
                  accept: Callable[[requests.Response], bool] | None = None,
                  final: Callable[[requests.Response], Any] | None = None) -> requests.Response:
        org = self._org_access()
        client = self._clients.get(org, "org", org.api_base, org.auth)
        return send(client, call.operation, call.invoke, call.method, call.path,
                    params=call.params, json=call.json, accept=accept, final=final)


CONFLUENCE_INVITE_HINT = (
    "a Confluence installation invites people through the site's Jira with a site-admin API "
    "token, or through the organization with an organization API key; without either, invite "
    "them in Atlassian Administration (or set the connection to skip unmatched users) and "
    "they are linked by e-mail on the next run")
FILTER_VALUES = products.JIRA_PAGE  # identifiers per group/bulk call: one page of answers
FILTER_CHARS = 3000  # and a URL short enough for every proxy on the way


def _filter_chunks(ids: list[str], names: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """Split the identifiers into calls of at most FILTER_VALUES values and FILTER_CHARS."""
    chunk: tuple[list[str], list[str]] = ([], [])
    size = 0
    for index, value in [(0, i) for i in ids] + [(1, n) for n in names]:
        cost = len(quote(value, safe="")) + 12
        full = len(chunk[0]) + len(chunk[1]) >= FILTER_VALUES or size + cost > FILTER_CHARS
        if full and (chunk[0] or chunk[1]):
            yield chunk
            chunk, size = ([], []), 0
        chunk[index].append(value)
        size += cost
    if chunk[0] or chunk[1]:
        yield chunk


def _bare_500(response: requests.Response) -> LicenceExceededError | None:
    """Confluence's answer to a member add beyond the licence: a 500 with no JSON error."""
    if response.status_code != 500 or "json" in response.headers.get("Content-Type", ""):
        return None
    return LicenceExceededError("add_member", CONFLUENCE_BARE_500, status=500,
                                remote_message=response.text[:200])


__all__ = ["Access", "AtlassianSite", "MembershipOp", "MembershipResult", "OrgAccess"]
