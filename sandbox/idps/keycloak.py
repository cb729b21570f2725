"""A sandbox Keycloak (Quarkus layout): client-credentials token, admin users, group tree, members, admin events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, jsonify, request

from sandbox.idps.common import SandboxHandle, TokenIssuer, bearer, page_bounds, serve_app
from sandbox.idps.directory import Directory, Person, Team

KIND = "keycloak"
MAX_PAGE = 1000  # Keycloak has no hard cap; this sandbox clamps like a cautious proxy would
REALM = "acme"
CLIENT_ID = "usersync"
CLIENT_SECRET = "keycloak-sandbox-secret"


def _user(p: Person) -> dict[str, Any]:
    return {"id": p.id, "username": p.username, "email": p.email, "firstName": p.given_name,
            "lastName": p.family_name, "enabled": p.active, "emailVerified": True,
            "createdTimestamp": int(p.updated * 1000)}


class KeycloakState:
    """The directory as Keycloak sees it, plus the admin-event log tests append to."""

    def __init__(self, directory: Directory, legacy: bool, roles: set[str],
                 admin_events: bool = True):
        self.directory = directory
        self.legacy = legacy
        self.roles = roles
        self.admin_events = admin_events
        """Realm settings > Events > Admin events settings > Save events."""
        self.events: list[dict[str, Any]] = []

    def path(self, team: Team) -> str:
        parts = [team.name]
        seen = {team.id}
        while team.parent_id and team.parent_id not in seen:
            team = self.directory.teams[team.parent_id]
            seen.add(team.id)
            parts.append(team.name)
        return "/" + "/".join(reversed(parts))

    def group(self, team: Team, children: dict[str, list[Team]], inline: bool,
              flat: bool = False) -> dict[str, Any]:
        kids = children.get(team.id, [])
        body: dict[str, Any] = {"id": team.id, "name": team.name, "path": self.path(team)}
        if not self.legacy:  # GroupRepresentation.parentId arrived with Keycloak 23
            body["parentId"] = team.parent_id
        if flat:
            return body
        if inline:
            body["subGroups"] = [self.group(k, children, True) for k in kids]
        else:
            body["subGroupCount"] = len(kids)
            body["subGroups"] = []
        return body

    def children_index(self) -> dict[str | None, list[Team]]:
        index: dict[str | None, list[Team]] = {}
        for team in self.directory.teams.values():
            parent = team.parent_id if team.parent_id in self.directory.teams else None
            index.setdefault(parent, []).append(team)
        return index

    def record(self, operation: str, resource_type: str, path: str) -> None:
        """Append an admin event (what Keycloak saves when 'Save admin events' is on)."""
        if not self.admin_events:
            return
        self.events.append({"time": int(time.time() * 1000), "realmId": REALM,
                            "operationType": operation, "resourceType": resource_type,
                            "resourcePath": path})


def _token_endpoint(state: KeycloakState, tokens: TokenIssuer, realm: str):
    if realm != REALM:
        return jsonify(error="Realm does not exist"), 404
    form = request.form
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if request.authorization and request.authorization.type == "basic":
        client_id, secret = request.authorization.username, request.authorization.password
    if form.get("grant_type") != "client_credentials":
        return jsonify(error="unsupported_grant_type"), 400
    if client_id != CLIENT_ID or secret != CLIENT_SECRET:
        return jsonify(error="unauthorized_client",
                       error_description="Invalid client or Invalid client credentials"), 401
    return jsonify(tokens.response(client=client_id))


def create_app(state: KeycloakState, tokens: TokenIssuer) -> Flask:
    """The Flask app serving one realm."""
    app = Flask("sandbox-keycloak")
    admin = "/admin/realms/<realm>"

    @app.post("/realms/<realm>/protocol/openid-connect/token")
    def token(realm: str):
        return _token_endpoint(state, tokens, realm)

    @app.before_request
    def guard():
        if not request.path.startswith("/admin/"):
            return None
        if tokens.check(bearer(request.headers.get("Authorization"))) is None:
            return jsonify(error="HTTP 401 Unauthorized"), 401
        if request.view_args and request.view_args.get("realm") not in (None, REALM):
            return jsonify(error="Realm not found."), 404
        needed = ("view-events" if request.path.endswith(("/admin-events", "/events/config"))
                  else "view-users")
        if needed not in state.roles:
            return jsonify(error="HTTP 403 Forbidden"), 403
        return None

    @app.get(f"{admin}/users")
    def users(realm: str):
        first, size = page_bounds(request.args, "first", "max", 100, MAX_PAGE)
        people = state.directory.person_list()[first:first + size]
        return jsonify([_user(p) for p in people])

    @app.get(f"{admin}/users/count")
    def users_count(realm: str):
        return jsonify(len(state.directory.people))

    @app.get(f"{admin}/users/<uid>")
    def user(realm: str, uid: str):
        p = state.directory.people.get(uid)
        return (jsonify(_user(p)), 200) if p else (jsonify(error="User not found"), 404)

    @app.get(f"{admin}/users/<uid>/groups")
    def user_groups(realm: str, uid: str):
        if uid not in state.directory.people:
            return jsonify(error="User not found"), 404
        first, size = page_bounds(request.args, "first", "max", 100, MAX_PAGE)
        index = state.children_index()
        teams = [t for t in state.directory.team_list() if uid in t.member_ids]
        # a user's groups come flat, with their path (and parentId from Keycloak 23 on)
        return jsonify([state.group(t, index, False, flat=True) for t in teams[first:first + size]])

    @app.get(f"{admin}/group-by-path/<path:path>")
    def group_by_path(realm: str, path: str):
        index = state.children_index()
        team = next((t for t in state.directory.team_list()
                     if state.path(t) == "/" + path.strip("/")), None)
        if team is None:
            return jsonify(error="Group path does not exist"), 404
        return jsonify(state.group(team, index, state.legacy))

    @app.get(f"{admin}/groups")
    def groups(realm: str):
        first, size = page_bounds(request.args, "first", "max", 100, MAX_PAGE)
        index = state.children_index()
        top = index.get(None, [])[first:first + size]
        return jsonify([state.group(t, index, state.legacy) for t in top])

    @app.get(f"{admin}/groups/<gid>")
    def group(realm: str, gid: str):
        team = state.directory.teams.get(gid)
        if team is None:
            return jsonify(error="Could not find group by id"), 404
        return jsonify(state.group(team, state.children_index(), state.legacy))

    @app.get(f"{admin}/groups/<gid>/children")
    def children(realm: str, gid: str):
        if state.legacy:  # Keycloak < 23 has no such endpoint
            return jsonify(error="HTTP 404 Not Found"), 404
        if gid not in state.directory.teams:
            return jsonify(error="Could not find group by id"), 404
        first, size = page_bounds(request.args, "first", "max", 10, MAX_PAGE)
        index = state.children_index()
        kids = index.get(gid, [])[first:first + size]
        return jsonify([state.group(k, index, False) for k in kids])

    @app.get(f"{admin}/groups/<gid>/members")
    def members(realm: str, gid: str):
        team = state.directory.teams.get(gid)
        if team is None:
            return jsonify(error="Could not find group by id"), 404
        first, size = page_bounds(request.args, "first", "max", 100, MAX_PAGE)
        people = state.directory.people
        ids = [i for i in team.member_ids if i in people][first:first + size]
        return jsonify([_user(people[i]) for i in ids])

    @app.get(f"{admin}/admin-events")
    def admin_events(realm: str):
        first, size = page_bounds(request.args, "first", "max", 100, MAX_PAGE)
        wanted = set(request.args.getlist("resourceTypes"))
        since = _date_from(request.args.get("dateFrom"))
        direction = request.args.get("direction", "desc")
        if direction not in ("asc", "desc"):
            return jsonify(error="Invalid value for sortDirection, expected value is asc or "
                                 "desc"), 400
        events = [e for e in reversed(state.events)  # Keycloak lists newest first
                  if (not wanted or e["resourceType"] in wanted) and e["time"] >= since]
        if direction == "asc":
            events.reverse()
        return jsonify(events[first:first + size])

    @app.get(f"{admin}/events/config")
    def events_config(realm: str):
        return jsonify({"eventsEnabled": False, "eventsListeners": ["jboss-logging"],
                        "enabledEventTypes": [], "adminEventsEnabled": state.admin_events,
                        "adminEventsDetailsEnabled": False})

    return app


def _date_from(value: str | None) -> int:
    """Keycloak takes dateFrom as yyyy-MM-dd (newer versions also epoch millis)."""
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    return int(time.mktime(time.strptime(value, "%Y-%m-%d")) * 1000) - 86_400_000  # any TZ


@contextmanager
def serve(directory: Directory, *, latency: float = 0.0, legacy: bool = False,
          roles: tuple[str, ...] = ("view-users", "view-events"),
          admin_events: bool = True) -> Iterator[SandboxHandle]:
    """Serve `directory` as realm `acme`; `legacy` plays Keycloak < 23 (inline subGroups);
    `admin_events` is the realm's 'Save events' switch for admin events."""
    state = KeycloakState(directory, legacy, set(roles), admin_events)
    tokens = TokenIssuer(lifetime=300)

    def settings(url: str) -> dict[str, Any]:
        return {"base_url": url, "realm": REALM, "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET}

    with serve_app(create_app(state, tokens), latency=latency, tokens=tokens,
                   settings=settings, extra={"state": state}) as handle:
        yield handle


def min_requests(directory: Directory) -> int:
    """Token + user pages + group tree pages + one members page set per group (offset paging)."""
    index: dict[str | None, int] = {}
    for team in directory.teams.values():
        parent = team.parent_id if team.parent_id in directory.teams else None
        index[parent] = index.get(parent, 0) + 1
    pages = 1 + _offset_pages(len(directory.people)) + _offset_pages(index.get(None, 0))
    pages += sum(_offset_pages(index[t]) for t in index if t is not None)
    people = directory.people
    for team in directory.teams.values():
        pages += _offset_pages(sum(1 for i in team.member_ids if i in people))
    return pages


def _offset_pages(n: int) -> int:
    # without totals the reader stops only on a short page, so an exact multiple costs one more
    return n // MAX_PAGE + 1

