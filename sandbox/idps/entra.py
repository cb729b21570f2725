"""A sandbox Entra ID: the v2 token endpoint and the Graph lists, members (with casts) and delta queries."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, jsonify, request

from sandbox.idps.common import (
    ClientCertificate,
    SandboxHandle,
    TokenIssuer,
    bearer,
    pages,
    serve_app,
)
from sandbox.idps.directory import Directory, Person
from sandbox.idps.hooks_graph import GraphSubscriptions, add_routes

KIND = "entra"
MAX_PAGE = 999
DELTA_PAGE = 200
DELTA_MEMBERS_PER_ITEM = 20  # Graph splits one group's member changes over several items
TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "entra-sandbox-secret"
USER = "#microsoft.graph.user"
GROUP = "#microsoft.graph.group"


def _graph_error(status: int, code: str, message: str):
    return jsonify(error={"code": code, "message": message,
                          "innerError": {"request-id": "sandbox"}}), status


def _error_body(status: int) -> tuple[str, dict[str, str]]:
    code = {429: "TooManyRequests", 503: "serviceNotAvailable"}.get(status, "generalException")
    return json.dumps({"error": {"code": code, "message": f"injected {status}"}}), \
        {"Content-Type": "application/json"}


def _user(p: Person) -> dict[str, Any]:
    return {"@odata.type": USER, "id": p.id, "displayName": p.display_name, "mail": p.email,
            "userPrincipalName": p.email, "givenName": p.given_name, "surname": p.family_name,
            "accountEnabled": p.active}


def _token(n: str) -> str:
    return base64.urlsafe_b64encode(n.encode()).decode()


def _untoken(t: str) -> str:
    return base64.urlsafe_b64decode(t.encode()).decode()


class GraphState:
    """The directory as Graph sees it, and the states remembered for delta links."""

    def __init__(self, directory: Directory, permissions: set[str]):
        self.subscriptions = GraphSubscriptions()
        self.directory = directory
        self.permissions = permissions
        self.certificate = ClientCertificate("usersync-entra-app")
        self._lock = threading.Lock()
        self._saved: dict[str, dict[str, Any]] = {}
        self._rounds: dict[str, tuple[list[dict[str, Any]], str]] = {}

    def member_items(self, group_id: str) -> list[dict[str, Any]]:
        """Direct members: users, and the groups nested under this one."""
        d = self.directory
        team = d.teams[group_id]
        users = [_user(d.people[i]) for i in team.member_ids if i in d.people]
        kids = [{"@odata.type": GROUP, "id": t.id, "displayName": t.name}
                for t in d.children(group_id)]
        return users + kids

    def transitive_items(self, group_id: str) -> list[dict[str, Any]]:
        seen_groups, seen_users, out = {group_id}, set(), []
        queue = [group_id]
        while queue:
            for item in self.member_items(queue.pop()):
                if item["@odata.type"] == GROUP and item["id"] not in seen_groups:
                    seen_groups.add(item["id"])
                    queue.append(item["id"])
                    out.append(item)
                elif item["@odata.type"] == USER and item["id"] not in seen_users:
                    seen_users.add(item["id"])
                    out.append(item)
        return out

    def member_of(self, object_id: str, transitive: bool = False) -> list[dict[str, Any]]:
        """The groups a user or group is a member of (directly, or through nesting too)."""
        d = self.directory
        found: list[dict[str, Any]] = []
        direct = ([t for t in d.teams.values() if object_id in t.member_ids]
                  if object_id in d.people else
                  [d.teams[p] for p in (d.teams[object_id].parent_id,) if p in d.teams])
        seen = set()
        while direct:
            team = direct.pop(0)
            if team.id in seen:
                continue
            seen.add(team.id)
            found.append({"@odata.type": GROUP, "id": team.id, "displayName": team.name})
            if transitive and team.parent_id in d.teams:
                direct.append(d.teams[team.parent_id])
        return found

    def state(self, kind: str) -> dict[str, Any]:
        d = self.directory
        if kind == "users":
            return {p.id: _user(p) for p in d.people.values()}
        return {t.id: {"displayName": t.name,
                       "members": {(i["@odata.type"], i["id"]) for i in self.member_items(t.id)}}
                for t in d.teams.values()}

    def save(self, kind: str) -> str:
        with self._lock:
            key = f"{kind}-{len(self._saved)}"
            self._saved[key] = self.state(kind)
        return key

    def start_round(self, kind: str, since: str | None) -> str:
        """Compute the changes since saved state `since` (everything when None); a round id."""
        before = self._saved.get(since, {}) if since else {}
        after = self.state(kind)
        items = _user_changes(before, after) if kind == "users" else _group_changes(before, after)
        next_key = self.save(kind)
        with self._lock:
            rid = f"r{len(self._rounds)}"
            self._rounds[rid] = (items, next_key)
        return rid

    def round_page(self, rid: str, offset: int) -> tuple[list[dict[str, Any]], str | None, str]:
        items, next_key = self._rounds[rid]
        page = items[offset:offset + DELTA_PAGE]
        more = offset + DELTA_PAGE < len(items)
        return page, (f"{rid}:{offset + DELTA_PAGE}" if more else None), next_key


def _user_changes(before: dict, after: dict) -> list[dict[str, Any]]:
    changed = [u for uid, u in after.items() if before.get(uid) != u]
    removed = [{"id": uid, "@removed": {"reason": "changed"}} for uid in before
               if uid not in after]
    return changed + removed


def _group_changes(before: dict, after: dict) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for gid, now in after.items():
        old = before.get(gid, {"displayName": None, "members": set()})
        added = [{"@odata.type": t, "id": i} for t, i in sorted(now["members"] - old["members"])]
        gone = [{"@odata.type": t, "id": i, "@removed": {"reason": "deleted"}}
                for t, i in sorted(old["members"] - now["members"])]
        changes = added + gone
        if now["displayName"] == old["displayName"] and not changes:
            continue
        chunks = [changes[i:i + DELTA_MEMBERS_PER_ITEM]
                  for i in range(0, len(changes), DELTA_MEMBERS_PER_ITEM)] or [[]]
        for n, chunk in enumerate(chunks):
            item: dict[str, Any] = {"id": gid, "members@delta": chunk}
            if n == 0:
                item["displayName"] = now["displayName"]
            out.append(item)
    out += [{"id": gid, "@removed": {"reason": "deleted"}} for gid in before if gid not in after]
    return out


def _listing(items: list[Any], to_json: Any = None, default_top: int = 100):
    """One page of a Graph collection with an opaque $skiptoken nextLink."""
    top = min(int(request.args.get("$top", default_top)), MAX_PAGE)
    skip = int(_untoken(request.args["$skiptoken"])) if "$skiptoken" in request.args else 0
    body: dict[str, Any] = {"@odata.context": f"{request.host_url}v1.0/$metadata",
                            "value": [to_json(i) if to_json else i
                                      for i in items[skip:skip + top]]}
    if skip + top < len(items):
        query = {k: v for k, v in request.args.items() if k != "$skiptoken"}
        query["$skiptoken"] = _token(str(skip + top))
        body["@odata.nextLink"] = request.base_url + "?" + "&".join(
            f"{k}={v}" for k, v in query.items())
    return jsonify(body)


def _delta(state: GraphState, kind: str):
    args = request.args
    base = f"{request.host_url}v1.0/{kind}/delta"
    if args.get("$deltatoken") == "latest":
        return jsonify({"value": [], "@odata.deltaLink": f"{base}?$deltatoken={state.save(kind)}"})
    if "$skiptoken" in args:
        rid, offset = _untoken(args["$skiptoken"]).split(":")
    else:
        since = args.get("$deltatoken")
        if since and since not in state._saved:
            return _graph_error(410, "resyncRequired", "The delta token is no longer valid.")
        rid, offset = state.start_round(kind, since), "0"
    page, more, next_key = state.round_page(rid, int(offset))
    body: dict[str, Any] = {"value": page}
    if more:
        body["@odata.nextLink"] = f"{base}?$skiptoken={_token(more)}"
    else:
        body["@odata.deltaLink"] = f"{base}?$deltatoken={next_key}"
    return jsonify(body)


def create_app(state: GraphState, tokens: TokenIssuer) -> Flask:
    """Login endpoint and Graph v1.0 on one server (both base URLs are settings)."""
    app = Flask("sandbox-entra")

    @app.post("/<tenant>/oauth2/v2.0/token")
    def token(tenant: str):
        form = request.form
        if tenant not in (TENANT, "contoso-tenant-id"):
            return jsonify(error="invalid_request", error_description=(
                f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the "
                f"correct tenant ID.")), 400
        if form.get("scope") != "https://graph.microsoft.com/.default":
            return jsonify(error="invalid_scope", error_description="AADSTS1002012: bad scope"), 400
        if form.get("client_id") != CLIENT_ID:
            return jsonify(error="unauthorized_client", error_description=(
                f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not "
                f"found in the directory.")), 400
        if "client_assertion" in form:
            problem = state.certificate.check_assertion(form["client_assertion"], CLIENT_ID,
                                                        request.base_url)
            if problem:
                return jsonify(error="invalid_client",
                               error_description=f"AADSTS700027: {problem}"), 401
        elif form.get("client_secret") != CLIENT_SECRET:
            return jsonify(error="invalid_client", error_description=(
                "AADSTS7000215: Invalid client secret provided.")), 401
        return jsonify(tokens.response(tenant=tenant))

    @app.before_request
    def guard():
        if not request.path.startswith("/v1.0/"):
            return None
        if tokens.check(bearer(request.headers.get("Authorization"))) is None:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token has expired "
                                "or is not yet valid.")
        needed = "GroupMember.Read.All" if "/groups" in request.path else "User.Read.All"
        if needed not in state.permissions:
            return _graph_error(403, "Authorization_RequestDenied",
                                "Insufficient privileges to complete the operation.")
        return None

    @app.get("/v1.0/users")
    def users():
        return _listing(state.directory.person_list(), _user)

    @app.get("/v1.0/groups")
    def groups():
        return _listing(state.directory.team_list(),
                        lambda t: {"id": t.id, "displayName": t.name})

    @app.get("/v1.0/users/<uid>")
    def user(uid: str):
        person = state.directory.people.get(uid)
        if person is None:
            return _graph_error(404, "Request_ResourceNotFound",
                                f"Resource '{uid}' does not exist or one of its queried "
                                f"reference-property objects are not present.")
        return jsonify(_user(person))

    @app.get("/v1.0/groups/<gid>")
    def group(gid: str):
        team = state.directory.teams.get(gid)
        if team is None:
            return _graph_error(404, "Request_ResourceNotFound",
                                f"Resource '{gid}' does not exist.")
        return jsonify({"@odata.type": GROUP, "id": team.id, "displayName": team.name})

    @app.get("/v1.0/<collection>/<oid>/<relation>")
    @app.get("/v1.0/<collection>/<oid>/<relation>/<cast>")
    def related(collection: str, oid: str, relation: str, cast: str | None = None):
        """A user's or a group's memberOf, a group's members, directly or transitively."""
        known = {"users": state.directory.people, "groups": state.directory.teams}
        if oid not in known.get(collection, {}):
            return _graph_error(404, "Request_ResourceNotFound",
                                f"Resource '{oid}' does not exist.")
        if relation in ("memberOf", "transitiveMemberOf"):
            items = state.member_of(oid, relation == "transitiveMemberOf")
        elif collection == "groups" and relation in ("members", "transitiveMembers"):
            items = (state.member_items(oid) if relation == "members"
                     else state.transitive_items(oid))
        else:
            return _graph_error(400, "BadRequest", f"Unsupported segment {relation}")
        if cast:
            items = [i for i in items if i["@odata.type"] == f"#{cast}"]
        return _listing(items)

    @app.get("/v1.0/users/delta")
    def users_delta():
        return _delta(state, "users")

    @app.get("/v1.0/groups/delta")
    def groups_delta():
        return _delta(state, "groups")

    add_routes(app, state.subscriptions, "contoso-tenant-id")  # change notifications
    return app


@contextmanager
def serve(directory: Directory, *, latency: float = 0.0,
          permissions: tuple[str, ...] = ("User.Read.All", "GroupMember.Read.All"),
          certificate: bool = False) -> Iterator[SandboxHandle]:
    """Serve `directory` as tenant contoso; the login and Graph base URLs both point here.

    With `certificate` the settings carry the app's certificate and key instead of a secret.
    """
    state = GraphState(directory, set(permissions))
    tokens = TokenIssuer(lifetime=3599)

    def settings(url: str) -> dict[str, Any]:
        credential = ({"certificate": state.certificate.certificate_pem,
                       "private_key": state.certificate.private_pem} if certificate
                      else {"client_secret": CLIENT_SECRET})
        return {"tenant": TENANT, "client_id": CLIENT_ID, "login_url": url, "graph_url": url,
                **credential}

    with serve_app(create_app(state, tokens), latency=latency, tokens=tokens, settings=settings,
                   error_body=_error_body,
                   extra={"state": state, "subscriptions": state.subscriptions}) as handle:
        yield handle


def min_requests(directory: Directory) -> int:
    """Token + user pages + group pages + one member listing per group, all at $top=999."""
    total = 1 + pages(len(directory.people), MAX_PAGE) + pages(len(directory.teams), MAX_PAGE)
    return total + sum(pages(n, MAX_PAGE) for n in directory.member_counts().values())
