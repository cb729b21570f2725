"""Oracle source (OCI IAM identity domains, formerly IDCS): SCIM under /admin/v1 with Oracle's limits."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from workers.backoff import BackoffPolicy
from workers.sources.base import SourceError
from workers.sources.http import (
    HttpClient,
    RefreshingClientCredentials,
    SourceTransientError,
    workers_field,
)
from workers.sources.scim_api import SCIM_ACCEPT, ScimApiSource
from workers.sources.scim_paging import ScimReader, list_page
from workers.sources.settings import field_meta
from workers.sync.model import Snapshot

SCOPE = "urn:opc:idm:__myscopes__"
MAX_PAGE = 1000
MEMBER_LIMIT = 10_000



class OracleSettingsSchema(Schema):
    """The identity domain and its confidential application (client credentials)."""

    domain_url = fields.String(required=True, validate=validate.URL(
        schemes={"https", "http"}, require_tld=False), metadata=field_meta(
        "Domain URL", "https://idcs-<id>.identity.oraclecloud.com (the domain's URL)."))
    client_id = fields.String(required=True, validate=validate.Length(min=1), metadata=field_meta(
        "Client id", "Of a confidential app with the User Administrator app role."))
    client_secret = fields.String(required=True, validate=validate.Length(min=1),
                                  metadata=field_meta("Client secret", "", secret=True))
    page_size = fields.Integer(load_default=MAX_PAGE, validate=validate.Range(1, MAX_PAGE),
                               metadata=field_meta("Page size", "Users or groups per request."))
    member_page_size = fields.Integer(
        load_default=MEMBER_LIMIT, validate=validate.Range(1, MEMBER_LIMIT),
        metadata=field_meta("Member page size", "Members per request for very large groups."))
    workers = workers_field(4, "the free tier allows 20 requests a second")


class PageSize:
    """The group page size, searched for (bisection) when answers exceed the member limit."""

    def __init__(self, start: int):
        self.count = start
        self.good = 0
        self.bad: int | None = None

    def too_many(self) -> bool:
        """The last page was refused; False when even one group per page is too many."""
        if self.count <= 1:
            return False
        self.bad = self.count
        self.count = max(1, (self.good + self.bad) // 2 if self.good else self.count // 2)
        return True

    def worked(self, biggest: int, limit: int) -> None:
        """The page fit; `biggest` is its largest member count, to guess how many groups fit."""
        self.good = max(self.good, self.count)
        if self.bad is None:
            return
        # as many groups as fit if none is bigger than the biggest seen; never back to a refused size
        self.count = max(1, min(self.bad - 1, limit // max(biggest, 1)))


class OracleReader(ScimReader):
    """SCIM reading with Oracle's rule: one answer may carry at most 10,000 group members."""

    def __init__(self, client: HttpClient, *, page_size: int, member_page_size: int):
        super().__init__(client, page_size=page_size, group_page_size=page_size)
        self.member_page_size = member_page_size

    def groups(self, snapshot: Snapshot, scim_filter: str | None = None) -> list[dict[str, Any]]:
        """Group pages with members; a page over the member limit is asked again, smaller."""
        base = {"filter": scim_filter} if scim_filter else {}
        out: list[dict[str, Any]] = []
        start, size = 1, PageSize(self.group_page_size)
        while True:
            try:
                resources, total = list_page(self.client, self.groups_path,
                                             {**base, "attributes": "displayName,members,meta"},
                                             start, size.count)
            except SourceTransientError as exc:
                snapshot.mark_incomplete(f"reading groups: {exc.message}")
                return out
            except SourceError as exc:
                if type(exc) is not SourceError:  # auth, permission, not found: stop here
                    raise
                if size.too_many():  # too many members in one answer: ask for fewer groups
                    continue
                resources, total = self._one_large_group(base, start, snapshot)
            else:
                size.worked(max((len(r.get("members") or []) for r in resources), default=0),
                            self.member_page_size)
            out += resources
            start += len(resources)
            if not resources or start > total:
                return out

    def _one_large_group(self, base: dict[str, Any], start: int, snapshot: Snapshot
                         ) -> tuple[list[dict[str, Any]], int]:
        resources, total = list_page(self.client, self.groups_path,
                                     {**base, "attributes": "displayName,meta"}, start, 1)
        for resource in resources:
            try:
                resource["members"] = self.read_members(resource)
            except SourceTransientError as exc:
                snapshot.mark_incomplete(f"members of {resource.get('displayName')}: "
                                         f"{exc.message}")
                resource["members"] = []
        return resources, total

    def read_members(self, group: dict[str, Any]) -> list[dict[str, Any]]:
        """Every member of one group, `member_page_size` at a time (Oracle's members[...] slice)."""
        out: list[dict[str, Any]] = []
        while True:
            size = self.member_page_size
            body = self.client.get_json(
                f"{self.groups_path}/{group['id']}",
                {"attributes": f"members[startIndex={len(out) + 1}&count={size}]"})
            chunk = list(body.get("members") or []) if isinstance(body, dict) else []
            out += chunk
            if len(chunk) < size:
                return out


class OracleSource(ScimApiSource):
    """Reads an OCI IAM identity domain (IDCS) through its SCIM admin API (which filters on
    meta.lastModified and members.value)."""

    kind = "oracle"
    label = "Oracle identity domain"
    settings_schema = OracleSettingsSchema
    place = "the identity domain"
    # Oracle's limits are per second and per minute: start gently, wait up to a minute
    default_backoff = BackoffPolicy(initial=2.0, cap=60.0, max_retries=5)

    def make_client(self) -> HttpClient:
        config = self.settings
        domain = config.domain_url.rstrip("/")
        auth = RefreshingClientCredentials(f"{domain}/oauth2/v1/token", config.client_id,
                                           client_secret=config.client_secret, scope=SCOPE,
                                           secret_style="basic")
        return self.new_client(f"{domain}/admin/v1/", auth, headers={"Accept": SCIM_ACCEPT})

    def reader(self) -> OracleReader:
        return OracleReader(self.client, page_size=self.settings.page_size,
                            member_page_size=self.settings.member_page_size)
