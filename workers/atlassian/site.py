"""One Atlassian site as the sync sees it: the AtlassianTarget over Jira or Confluence, idempotent."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase

from workers.atlassian import products
from workers.atlassian.errors import (
    ORG_KEY_HINT,
    WRITE_CREDENTIAL_HINT,
    ConflictError,
    MissingCredentialError,
    PermissionDenied,
)
from workers.atlassian.http import Transport, json_body
from workers.atlassian.memberships import MembershipOp, MembershipResult, apply_all
from workers.atlassian.target import AtlassianGroup, AtlassianUser

ALREADY_MEMBER = re.compile(r"already (a )?member", re.IGNORECASE)
NOT_MEMBER = re.compile(r"not (a )?member", re.IGNORECASE)
GROUP_EXISTS = re.compile(r"already exists|duplicate", re.IGNORECASE)
DEFAULT_CONCURRENCY = 6  # independent writes in flight; Atlassian's per-second limits bite above


@dataclass(frozen=True, slots=True)
class Access:
    """A base URL and the auth that goes with it (site URL + JWT/Basic, or the OAuth gateway)."""

    base_url: str
    auth: AuthBase
    label: str  # what the admin connected, for messages: "Connect app", "OAuth", "API token"
    may_write: bool = True  # False: known to be refused group writes (a Forge app's own token)


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
    organization API key) is needed only for suspend/restore.
    """

    def __init__(self, product: str, transport: Transport, read: Access,
                 write: Access | None = None, org: OrgAccess | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if product not in products.PRODUCTS:
            raise ValueError(f"product must be jira or confluence, not {product!r}")
        self.product = products.PRODUCTS[product]
        self.transport, self.read, self.write, self.org = transport, read, write, org
        self.concurrency = max(1, concurrency)

    # -- reads ------------------------------------------------------------------------
    def list_groups(self) -> list[AtlassianGroup]:
        return self._all_pages(self.product.groups, self.product.parse_group)

    def group_members(self, group_id: str) -> list[AtlassianUser]:
        return self._all_pages(lambda start: self.product.members(group_id, start),
                               self.product.parse_user)

    def user_groups(self, account_id: str) -> list[AtlassianGroup]:
        return self._all_pages(lambda start: self.product.user_groups(account_id, start),
                               self.product.parse_group)

    def find_user_by_email(self, email: str) -> AtlassianUser | None:
        if "@" not in (email or ""):
            raise ValueError(f"not an e-mail address: {email!r}")
        return products.pick_user(self._json(self.read, products.find_user(email)), email)

    def is_site_admin(self, account_id: str) -> bool:
        body = self._json(self.read, products.admin_check(account_id))
        return "ADMINISTER" in (body.get("globalPermissions") or [])

    def is_product_admin(self, account_id: str) -> bool:
        """Whether the account administers this product: Jira's ADMINISTER global permission,
        or Confluence's `administer` operation on the application (its own check)."""
        if self.product.name == "confluence":
            return products.grants_confluence_admin(
                self._json(self.read, products.confluence_admin_check(account_id)))
        return self.is_site_admin(account_id)

    def check_write_access(self) -> str:
        """A harmless read with the write credential; the account it acts as (display name)."""
        if self.write is None:
            raise MissingCredentialError("check_write_credential",
                                         f"no write credential is connected: {WRITE_CREDENTIAL_HINT}")
        path = "/wiki/rest/api/user/current" if self.product.name == "confluence" \
            else "/rest/api/3/myself"
        body = self._json(self.write, products.Call("check_write_credential", "GET", path))
        return str(body.get("displayName") or body.get("accountId") or "")

    # -- writes -----------------------------------------------------------------------
    def create_group(self, name: str) -> AtlassianGroup:
        name = (name or "").strip()
        if not name:
            raise ValueError("a group needs a name")
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
        self._write(self.product.add_member(group_id, account_id),
                    accept=lambda r: r.status_code == 400 and bool(ALREADY_MEMBER.search(r.text)))

    def remove_member(self, group_id: str, account_id: str) -> None:
        self._write(self.product.remove_member(group_id, account_id),
                    accept=lambda r: r.status_code == 400 and bool(NOT_MEMBER.search(r.text)))

    def invite_user(self, email: str, display_name: str, products_: list[str]) -> AtlassianUser:
        if "@" not in (email or ""):
            raise ValueError(f"not an e-mail address: {email!r}")
        call = products.invite(email, display_name, products_)
        return products.jira_user(json_body(call.operation, self._write(call)))

    def apply_memberships(self, ops: list[MembershipOp]) -> list[MembershipResult]:
        """Adds and removes, run concurrently (bounded), one result per op in the same order."""
        return apply_all(self, ops, self.concurrency)

    # -- organization -----------------------------------------------------------------
    def suspend_access(self, account_id: str) -> None:
        self._org(products.org_user(self._org_access().org_id, account_id, "suspend-access"))

    def restore_access(self, account_id: str) -> None:
        self._org(products.org_user(self._org_access().org_id, account_id, "restore-access"))

    # -- plumbing ---------------------------------------------------------------------
    def _all_pages(self, call_for: Callable[[int], products.Call],
                   parse: Callable[[Any], Any]) -> list[Any]:
        items: list[Any] = []
        start: int | None = 0
        while start is not None:
            call = call_for(start)
            page = self.product.page(self._json(self.read, call), start, parse)
            items.extend(page.items)
            start = page.next_start
        return items

    def _json(self, access: Access, call: products.Call) -> Any:
        return json_body(call.operation, self._send(access, call))

    def _send(self, access: Access, call: products.Call,
              accept: Callable[[requests.Response], bool] | None = None) -> requests.Response:
        return self.transport.request(call.operation, call.method, access.base_url + call.path,
                                      auth=access.auth, params=call.params, json=call.json,
                                      accept=accept)

    def _write(self, call: products.Call,
               accept: Callable[[requests.Response], bool] | None = None) -> requests.Response:
        if self.write is not None:
            return self._send(self.write, call, accept)
        if not self.read.may_write:
            raise MissingCredentialError(
                call.operation, f"the {self.read.label} may not write groups or users: "
                f"{WRITE_CREDENTIAL_HINT}")
        try:
            return self._send(self.read, call, accept)
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

    def _org(self, call: products.Call) -> None:
        org = self._org_access()
        self.transport.request(call.operation, call.method, org.api_base.rstrip("/") + call.path,
                               auth=org.auth)


__all__ = ["Access", "AtlassianSite", "MembershipOp", "MembershipResult", "OrgAccess"]
