"""A sandbox Oracle identity domain (OCI IAM / IDCS): Basic-auth token, SCIM under /admin/v1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from math import ceil
from typing import Any

from flask import Flask, jsonify, request

from sandbox.idps.common import SandboxHandle, TokenIssuer, bearer, serve_app
from sandbox.idps.directory import Directory, Team
from sandbox.idps.scim import ScimState, add_scim_routes, error_body, project, scim_error

KIND = "oracle"
MAX_PAGE = 1000
MEMBER_LIMIT = 10_000  # "a maximum of 10,000 members can be returned in a single request"
PREFIX = "/admin/v1"
SCOPE = "urn:opc:idm:__myscopes__"
CLIENT_ID = "usersync-oci-app"
CLIENT_SECRET = "oracle-sandbox-secret"
_SLICE = re.compile(r"members\[startIndex=(\d+)&count=(\d+)\]", re.I)


class OracleState(ScimState):
    """SCIM as an identity domain serves it: users-only groups, members only when asked."""

    def __init__(self, directory: Directory, *, member_limit: int, authorized: bool):
        super().__init__(directory, members_in_list="when_asked", max_page=MAX_PAGE)
        self.member_limit = member_limit
        self.authorized = authorized

    def members(self, team: Team) -> list[dict[str, Any]]:
        # identity-domain groups hold users only: no nesting
        people = self.directory.people
        return [{"value": i, "type": "User", "display": people[i].display_name,
                 "$ref": f"{self.location}/Users/{i}"} for i in team.member_ids if i in people]


def _too_many(count: int, limit: int) -> tuple[Any, int]:
    return scim_error(400, f"The response would hold {count} group members, over the limit of "
                           f"{limit}; page them with attributes=members[startIndex=1&count=N].",
                      "tooMany")


def create_app(state: OracleState, tokens: TokenIssuer) -> Flask:
    app = Flask(__name__)

    @app.post("/oauth2/v1/token")
    def token():
        auth = request.authorization
        if not auth or auth.type != "basic":
            return jsonify(error="invalid_client", error_description="Client authentication "
                           "(HTTP Basic) is required"), 401
        if auth.username != CLIENT_ID or auth.password != CLIENT_SECRET:
            return jsonify(error="invalid_client",
                           error_description="Invalid client credentials"), 401
        if request.form.get("grant_type") != "client_credentials":
            return jsonify(error="unsupported_grant_type"), 400
        if request.form.get("scope") != SCOPE:
            return jsonify(error="invalid_scope",
                           error_description=f"scope must be {SCOPE}"), 400
        return jsonify(tokens.response(client=auth.username))

    @app.before_request
    def authenticate():
        if not request.path.startswith(PREFIX):
            return None
        if tokens.check(bearer(request.headers.get("Authorization"))) is None:
            return scim_error(401, "Invalid or expired access token")
        if not state.authorized:
            return scim_error(403, "The confidential app lacks the User Administrator "
                                   "app role")
        return None

    @app.after_request
    def member_limit(response):
        # the limit counts every member the answer would carry, across all groups in it
        body = response.get_json(silent=True) if response.status_code == 200 else None
        if isinstance(body, dict) and "Resources" in body and request.path.endswith("/Groups"):
            count = sum(len(r.get("members") or []) for r in body["Resources"])
            if count > state.member_limit:
                error, status = _too_many(count, state.member_limit)
                error.status_code = status
                return error
        return response

    def group_detail(team: Team):
        attributes = request.args.get("attributes") or ""
        members = state.members(team)
        body = project(state.group(team, False), attributes or None)
        match = _SLICE.search(attributes)
        if match:
            start, count = int(match.group(1)), min(int(match.group(2)), state.member_limit)
            body["members"] = members[start - 1: start - 1 + count]
        elif not attributes or "members" in attributes.lower():
            if len(members) > state.member_limit:
                return _too_many(len(members), state.member_limit)
            body["members"] = members
        return jsonify(body)

    add_scim_routes(app, state, PREFIX, group_detail=group_detail)
    return app


@contextmanager
def serve(directory: Directory, *, latency: float = 0.0, member_limit: int = MEMBER_LIMIT,
          authorized: bool = True) -> Iterator[SandboxHandle]:
    """Serve `directory` as an identity domain; `authorized=False` plays an app without roles."""
    state = OracleState(directory, member_limit=member_limit, authorized=authorized)
    tokens = TokenIssuer(lifetime=3600)

    def settings(url: str) -> dict[str, Any]:
        state.location = url + PREFIX
        return {"domain_url": url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    with serve_app(create_app(state, tokens), latency=latency, tokens=tokens, settings=settings,
                   error_body=error_body, extra={"state": state}) as handle:
        yield handle


def min_requests(directory: Directory, member_limit: int = MEMBER_LIMIT) -> int:
    """Token + user pages + group pages of at most 1,000 groups and `member_limit` members each;
    a group over the limit alone costs its listing plus one request per slice of members."""
    people = directory.people
    sizes = [sum(1 for i in t.member_ids if i in people) for t in directory.team_list()]
    pages, in_page, members = 0, 0, 0
    for size in sizes:
        if size > member_limit:
            pages += 1 + ceil(size / member_limit)
            continue
        if in_page == 0 or in_page == MAX_PAGE or members + size > member_limit:
            pages, in_page, members = pages + 1, 0, 0
        in_page, members = in_page + 1, members + size
    return 1 + max(1, ceil(len(people) / MAX_PAGE)) + max(pages, 1)
