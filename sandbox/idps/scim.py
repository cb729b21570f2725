"""A sandbox SCIM 2.0 service provider (RFC 7643/7644): Users, Groups, filtering, paging, auth."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from math import ceil
from typing import Any

from flask import Flask, Response, jsonify, request

from sandbox.idps.common import SandboxHandle, TokenIssuer, bearer, serve_app
from sandbox.idps.directory import Directory, Person, Team

KIND = "scim_pull"
MAX_PAGE = 1000
PREFIX = "/scim/v2"
API_TOKEN = "scim-sandbox-api-token"
CLIENT_ID = "usersync"
CLIENT_SECRET = "scim-sandbox-secret"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
_FILTER = re.compile(r'^\s*([\w.:]+)\s+(eq|ne|co|sw|ew|gt|ge|lt|le)\s+"([^"]*)"\s*$', re.I)


def iso(epoch: float) -> str:
    """SCIM's dateTime: ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def scim_error(status: int, detail: str, scim_type: str | None = None) -> tuple[Response, int]:
    body = {"schemas": [ERROR], "status": str(status), "detail": detail,
            **({"scimType": scim_type} if scim_type else {})}
    response = jsonify(body)
    response.content_type = "application/scim+json"
    return response, status


def error_body(status: int) -> tuple[str, dict[str, str]]:
    """Injected faults answer like a SCIM server would."""
    import json
    return (json.dumps({"schemas": [ERROR], "status": str(status), "detail": "injected fault"}),
            {"Content-Type": "application/scim+json"})


class ScimState:
    """The directory seen through SCIM, and how this server behaves.

    `members_in_list`: "default" (groups in lists carry members), "when_asked" (only with
    `attributes=members`), "never" (only a single-group GET returns them).
    """

    def __init__(self, directory: Directory, *, members_in_list: str = "default",
                 filtering: bool = True, max_page: int = MAX_PAGE, location: str = ""):
        self.directory = directory
        self.members_in_list = members_in_list
        self.filtering = filtering
        self.max_page = max_page
        self.location = location

    def user(self, p: Person) -> dict[str, Any]:
        return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": p.id,
                "userName": p.username, "displayName": p.display_name, "active": p.active,
                "name": {"givenName": p.given_name, "familyName": p.family_name},
                "emails": [{"value": p.email, "type": "work", "primary": True}],
                "meta": {"resourceType": "User", "lastModified": iso(p.updated),
                         "location": f"{self.location}/Users/{p.id}"}}

    def groups_of(self, p: Person) -> list[dict[str, Any]]:
        """RFC 7643 4.1.2 `groups`: direct ones, and those reached through nesting ("indirect")."""
        teams = self.directory.teams
        out, seen = [], set()
        level = [(t, "direct") for t in teams.values() if p.id in t.member_ids]
        while level:
            team, how = level.pop(0)
            if team.id in seen:
                continue
            seen.add(team.id)
            out.append({"value": team.id, "display": team.name, "type": how,
                        "$ref": f"{self.location}/Groups/{team.id}"})
            if team.parent_id in teams:
                level.append((teams[team.parent_id], "indirect"))
        return out

    def members(self, team: Team) -> list[dict[str, Any]]:
        people = self.directory.people
        out = [{"value": i, "type": "User", "display": people[i].display_name}
               for i in team.member_ids if i in people]
        return out + [{"value": t.id, "type": "Group", "display": t.name}
                      for t in self.directory.children(team.id)]

    def group(self, team: Team, with_members: bool) -> dict[str, Any]:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": team.id,
                "displayName": team.name,
                "meta": {"resourceType": "Group", "lastModified": iso(team.updated),
                         "location": f"{self.location}/Groups/{team.id}"}}
        if with_members:
            body["members"] = self.members(team)
        return body


def values_at(resource: dict[str, Any], path: str) -> list[Any]:
    """Every value at a dotted attribute path; lists (emails.value) fan out."""
    current: list[Any] = [resource]
    for part in path.lower().split("."):
        found: list[Any] = []
        for item in current:
            if isinstance(item, dict):
                value = next((v for k, v in item.items() if k.lower() == part), None)
                found += value if isinstance(value, list) else [] if value is None else [value]
        current = found
    return current


def matches(resource: dict[str, Any], attribute: str, op: str, value: str) -> bool:
    """One RFC 7644 comparison; dates compare as instants, strings case-insensitively."""
    found = values_at(resource, attribute)
    if not found:
        return op.lower() == "ne"
    return any(_compare(str(v).lower(), op.lower(), value.lower(),
                        attribute.lower().endswith("lastmodified")) for v in found)


def _compare(left: str, op: str, right: str, instant: bool) -> bool:
    if instant:
        left, right = _instant(left), _instant(right)
    return {"eq": left == right, "ne": left != right, "co": right in left,
            "sw": left.startswith(right), "ew": left.endswith(right), "gt": left > right,
            "ge": left >= right, "lt": left < right, "le": left <= right}[op]


def _instant(text: str) -> str:
    try:
        return iso(datetime.fromisoformat(text.upper().replace("Z", "+00:00")).timestamp())
    except ValueError:
        return text


def parse_filter(text: str) -> tuple[str, str, str]:
    match = _FILTER.match(text or "")
    if not match:
        raise ValueError(text)
    return match.group(1), match.group(2), match.group(3)


def project(resource: dict[str, Any], attributes: str | None) -> dict[str, Any]:
    """Apply `attributes=`: id, schemas and meta always come back (RFC 7643 'returned: always')."""
    if not attributes:
        return resource
    wanted = {a.strip().split("[")[0].split(".")[0].lower() for a in attributes.split(",")}
    return {k: v for k, v in resource.items()
            if k in ("id", "schemas", "meta") or k.lower() in wanted}


def list_response(state: ScimState, items: list[Any], render: Callable[[Any], dict[str, Any]],
                  whole: Callable[[Any], dict[str, Any]] | None = None) -> Response | tuple:
    """A ListResponse page; without a filter only the page itself is rendered. A filter sees
    the `whole` resource (members too), whatever the listing then returns."""
    query = request.args.get("filter")
    resources: list[Any] = items
    if query:
        if not state.filtering:
            return scim_error(400, "filtering is not supported", "invalidFilter")
        try:
            attribute, op, value = parse_filter(query)
        except ValueError:
            return scim_error(400, f"cannot parse filter {query!r}", "invalidFilter")
        full = whole or render
        resources = [item for item in items if matches(full(item), attribute, op, value)]
    try:
        start = max(int(request.args.get("startIndex", 1)), 1)
        count = min(max(int(request.args.get("count", state.max_page)), 0), state.max_page)
    except ValueError:
        return scim_error(400, "startIndex and count must be integers", "invalidValue")
    page = [render(r) for r in resources[start - 1: start - 1 + count]]
    attributes = request.args.get("attributes")
    response = jsonify({"schemas": [LIST], "totalResults": len(resources), "startIndex": start,
                        "itemsPerPage": len(page),
                        "Resources": [project(r, attributes) for r in page]})
    response.content_type = "application/scim+json"
    return response


def add_scim_routes(app: Flask, state: ScimState, prefix: str,
                    group_detail: Callable[[Team], Any] | None = None) -> None:
    """Mount the RFC 7644 read endpoints under `prefix` (shared with the Oracle sandbox)."""

    @app.get(f"{prefix}/ServiceProviderConfig")
    def service_provider_config():
        return jsonify({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                        "filter": {"supported": state.filtering, "maxResults": state.max_page},
                        "patch": {"supported": False}, "bulk": {"supported": False},
                        "sort": {"supported": False}, "etag": {"supported": False},
                        "changePassword": {"supported": False}})

    @app.get(f"{prefix}/Users")
    def users():
        return list_response(state, state.directory.person_list(), state.user)

    @app.get(f"{prefix}/Users/<uid>")
    def user(uid: str):
        person = state.directory.people.get(uid)
        if person is None:
            return scim_error(404, f"User {uid} not found")
        # only a single read carries `groups`: lists leave it out here to stay cheap
        return jsonify(project({**state.user(person), "groups": state.groups_of(person)},
                               request.args.get("attributes")))

    @app.get(f"{prefix}/Groups")
    def groups():
        asked = "members" in (request.args.get("attributes") or "").lower()
        embed = {"default": True, "when_asked": asked, "never": False}[state.members_in_list]
        return list_response(state, state.directory.team_list(),
                             lambda t: state.group(t, embed), lambda t: state.group(t, True))

    @app.get(f"{prefix}/Groups/<gid>")
    def group(gid: str):
        team = state.directory.teams.get(gid)
        if team is None:
            return scim_error(404, f"Group {gid} not found")
        if group_detail is not None:
            return group_detail(team)
        return jsonify(project(state.group(team, True), request.args.get("attributes")))


def create_app(state: ScimState, tokens: TokenIssuer) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def authenticate():
        if request.path == "/oauth/token":
            return None
        token = bearer(request.headers.get("Authorization"))
        if token != API_TOKEN and tokens.check(token) is None:
            return scim_error(401, "a valid bearer token is required")
        return None

    @app.post("/oauth/token")
    def token():
        auth = request.authorization
        client_id = auth.username if auth else request.form.get("client_id")
        secret = auth.password if auth else request.form.get("client_secret")
        if request.form.get("grant_type") != "client_credentials":
            return jsonify(error="unsupported_grant_type"), 400
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return jsonify(error="invalid_client", error_description="bad client credentials"), 401
        return jsonify(tokens.response(client=client_id))

    add_scim_routes(app, state, PREFIX)
    return app


@contextmanager
def serve(directory: Directory, *, latency: float = 0.0, auth: str = "bearer",
          members_in_list: str = "default", filtering: bool = True,
          max_page: int = MAX_PAGE) -> Iterator[SandboxHandle]:
    """Serve `directory` over SCIM; `auth` "bearer" (static token) or "oauth" (client credentials)."""
    state = ScimState(directory, members_in_list=members_in_list, filtering=filtering,
                      max_page=max_page)
    tokens = TokenIssuer(lifetime=3600)

    def settings(url: str) -> dict[str, Any]:
        state.location = url + PREFIX
        if auth == "oauth":
            return {"base_url": url + PREFIX, "auth": "oauth", "token_url": url + "/oauth/token",
                    "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        return {"base_url": url + PREFIX, "auth": "bearer", "token": API_TOKEN}

    with serve_app(create_app(state, tokens), latency=latency, tokens=tokens, settings=settings,
                   error_body=error_body, extra={"state": state}) as handle:
        yield handle


def min_requests(directory: Directory, max_page: int = MAX_PAGE) -> int:
    """ServiceProviderConfig (whether a change cursor can be kept) + user pages + group pages
    (members come inside the group listing); no token call."""
    return 1 + _pages(len(directory.people), max_page) + _pages(len(directory.teams), max_page)


def _pages(n: int, size: int) -> int:
    return max(1, ceil(n / size))
