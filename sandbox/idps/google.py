"""A sandbox Google Workspace: JWT-bearer token for a delegated admin, Directory API lists with nextPageToken, quota 403s."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, request

from sandbox.idps.common import SandboxHandle, TokenIssuer, bearer, pages, serve_app
from sandbox.idps.directory import Directory, Person, Team
from sandbox.idps.hooks_google import REPORTS_SCOPE, GoogleChannels, add_routes

KIND = "google"
USERS_MAX, GROUPS_MAX, MEMBERS_MAX = 500, 200, 200
SA_EMAIL = "usersync@acme-sync.iam.gserviceaccount.com"
ADMIN = "admin@example.com"
DIRECTORY_SCOPES = {f"https://www.googleapis.com/auth/admin.directory.{s}.readonly"
                    for s in ("user", "group", "group.member")}
SCOPES = DIRECTORY_SCOPES | {REPORTS_SCOPE}
"""The scopes the tenant's domain-wide delegation grants the service account by default."""
QUOTA_REASONS = ("userRateLimitExceeded", "quotaExceeded")


def google_error(status: int, message: str, reason: str, domain: str = "global"):
    """Google's JSON error envelope."""
    body = {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}
    return json.dumps(body), {"Content-Type": "application/json; charset=UTF-8"}


def _error_body(status: int) -> tuple[str, dict[str, str]]:
    reason = {429: "rateLimitExceeded", 503: "backendError"}.get(status, "internalError")
    return google_error(status, f"injected {status}", reason)


def _answer(status: int, message: str, reason: str):
    body, headers = google_error(status, message, reason)
    return body, status, headers


def _user(p: Person) -> dict[str, Any]:
    return {"kind": "admin#directory#user", "id": p.id, "primaryEmail": p.email,
            "name": {"givenName": p.given_name, "familyName": p.family_name,
                     "fullName": p.display_name},
            "suspended": not p.active, "archived": False, "isAdmin": p.email == ADMIN}


def _group(t: Team) -> dict[str, Any]:
    return {"kind": "admin#directory#group", "id": t.id, "name": t.name,
            "email": f"{t.name}@example.com", "directMembersCount": str(len(t.member_ids))}


def _one(item: Any, render: Any, key: str):
    """One resource by key, or the API's 404 naming the key parameter."""
    return jsonify(render(item)) if item is not None else _answer(
        404, f"Resource Not Found: {key}", "notFound")


def _paged(kind: str, field: str, items: list[Any], maximum: int, to_json: Any = None):
    size = max(1, min(int(request.args.get("maxResults", maximum)), maximum))
    token = request.args.get("pageToken")
    start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
    page = items[start:start + size]  # serialise only the page: the sandbox must stay cheap
    body: dict[str, Any] = {"kind": kind, "etag": '"sandbox"',
                            field: [to_json(i) for i in page] if to_json else page}
    if start + size < len(items):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return jsonify(body)


class Workspace:
    """The tenant: the service account's key, the delegation grant, the directory."""

    def __init__(self, directory: Directory, scopes: set[str]):
        self.directory = directory
        self.scopes = scopes
        self.channels = GoogleChannels()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = "sandbox-key-1"
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        self.public_key = key.public_key()

    def key_file(self, token_uri: str) -> str:
        """The JSON key file an admin downloads from the Cloud console."""
        return json.dumps({"type": "service_account", "project_id": "acme-sync",
                           "private_key_id": self.key_id, "private_key": self.private_pem,
                           "client_email": SA_EMAIL, "client_id": "1234567890",
                           "token_uri": token_uri})

    def grant(self, assertion: str, audience: str) -> tuple[dict[str, Any] | None, str]:
        """(claims, "") for a good JWT-bearer assertion, else (None, the OAuth error)."""
        try:
            claims = jwt.decode(assertion, self.public_key, algorithms=["RS256"],
                                audience=audience, options={"require": ["exp", "iat"]})
        except jwt.InvalidSignatureError:
            return None, "invalid_grant:Invalid JWT Signature."
        except jwt.PyJWTError as exc:
            return None, f"invalid_grant:Invalid JWT: {exc}"
        if claims.get("iss") != SA_EMAIL:
            return None, "invalid_client:The OAuth client was not found."
        if claims.get("sub") != ADMIN:
            return None, "invalid_grant:Invalid email or User ID"
        if not set(str(claims.get("scope", "")).split()) <= self.scopes:
            return None, ("unauthorized_client:Client is unauthorized to retrieve access tokens "
                          "using this method, or client not authorized for any of the scopes "
                          "requested.")
        return claims, ""


def create_app(ws: Workspace, tokens: TokenIssuer) -> Flask:
    """The token endpoint and the Admin SDK Directory API on one server."""
    app = Flask("sandbox-google")
    api = "/admin/directory/v1"

    @app.post("/token")
    def token():
        form = request.form
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return jsonify(error="unsupported_grant_type",
                           error_description="Invalid grant_type"), 400
        claims, problem = ws.grant(form.get("assertion", ""), request.base_url)
        if claims is None:
            code, _, text = problem.partition(":")
            return jsonify(error=code, error_description=text), 401 if code.startswith(
                "unauthorized") or code == "invalid_client" else 400
        return jsonify(tokens.response(sub=claims["sub"], scope=claims["scope"]))

    @app.before_request
    def guard():
        if not request.path.startswith(api):
            return None
        if tokens.check(bearer(request.headers.get("Authorization"))) is None:
            return _answer(401, "Request had invalid authentication credentials. Expected "
                                "OAuth 2 access token.", "authError")
        # groups.list takes a customer (or domain), or a userKey instead of both
        if request.path.endswith("/groups") and "userKey" in request.args:
            return None
        if request.path.endswith(("/users", "/groups")) and \
                request.args.get("customer") not in ("my_customer", "C0sandbox"):
            return _answer(400, "Bad Request", "badRequest")
        return None

    @app.get(f"{api}/users")
    def users():
        return _paged("admin#directory#users", "users", ws.directory.person_list(), USERS_MAX,
                      _user)

    @app.get(f"{api}/users/<key>")
    def user(key: str):
        return _one(ws.directory.people.get(key), _user, "userKey")

    @app.get(f"{api}/groups")
    def groups():
        d = ws.directory
        teams = d.team_list()
        key = request.args.get("userKey")
        if key is not None:  # the groups a user or a group is a direct member of
            if key not in d.people and key not in d.teams:
                return _answer(404, "Resource Not Found: userKey", "notFound")
            teams = [t for t in teams if key in t.member_ids or
                     (key in d.teams and d.teams[key].parent_id == t.id)]
        return _paged("admin#directory#groups", "groups", teams, GROUPS_MAX, _group)

    @app.get(f"{api}/groups/<key>")
    def group(key: str):
        return _one(ws.directory.teams.get(key), _group, "groupKey")

    @app.get(f"{api}/groups/<key>/members")
    def members(key: str):
        d = ws.directory
        team = d.teams.get(key)
        if team is None:
            return _answer(404, "Resource Not Found: groupKey", "notFound")
        items = [{"kind": "admin#directory#member", "id": i, "email": d.people[i].email,
                  "role": "MEMBER", "type": "USER", "status": "ACTIVE"}
                 for i in team.member_ids if i in d.people]
        items += [{"kind": "admin#directory#member", "id": t.id,
                   "email": f"{t.name}@example.com", "role": "MEMBER", "type": "GROUP"}
                  for t in d.children(key)]
        return _paged("admin#directory#members", "members", items, MEMBERS_MAX)

    add_routes(app, ws.channels, lambda header: tokens.check(bearer(header)))
    return app


@contextmanager
def serve(directory: Directory, *, latency: float = 0.0,
          scopes: tuple[str, ...] = tuple(sorted(SCOPES))) -> Iterator[SandboxHandle]:
    """Serve `directory` as a Workspace tenant whose service account may impersonate ADMIN."""
    ws = Workspace(directory, set(scopes))
    tokens = TokenIssuer(lifetime=3599)

    def settings(url: str) -> dict[str, Any]:
        return {"service_account_key": ws.key_file(f"{url}/token"), "admin_email": ADMIN,
                "token_url": f"{url}/token", "api_url": url}

    with serve_app(create_app(ws, tokens), latency=latency, tokens=tokens, settings=settings,
                   error_body=_error_body) as handle:
        handle.extra["workspace"] = ws
        handle.extra["channels"] = ws.channels
        faults = handle.faults

        def quota_on(n: int, reason: str = "userRateLimitExceeded") -> None:
            """Request `n` answers Google's 403 quota error (no Retry-After)."""
            body, headers = google_error(403, "Quota exceeded for quota metric", reason,
                                         "usageLimits")
            faults.answer_on(n, 403, body, headers)

        handle.extra["quota_on"] = quota_on
        yield handle


def min_requests(directory: Directory) -> int:
    """Token + user pages + group pages + member pages (users and nested groups) per group."""
    total = 1 + pages(len(directory.people), USERS_MAX) + pages(len(directory.teams), GROUPS_MAX)
    return total + sum(pages(n, MEMBERS_MAX) for n in directory.member_counts().values())
