"""A sandbox Okta org: SSWS or private_key_jwt + DPoP tokens, Link-header paging, lastUpdated search, rate-limit headers."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, request

from sandbox.idps.common import SandboxHandle, TokenIssuer, pages, serve_app
from sandbox.idps.directory import Directory, Person, Team
from sandbox.idps.hooks_okta import OktaHooks, add_routes

KIND = "okta"
USERS_MAX, GROUPS_MAX, MEMBERS_MAX = 200, 10000, 1000
USER_GROUPS_MAX = 200  # "List all groups of a user": limit <= 200
API_TOKEN = "00sandbox-okta-api-token"
CLIENT_ID = "0oasandboxclient"
SCOPES = {"okta.users.read", "okta.groups.read"}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_iso(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _okta_error(status: int, code: str, summary: str):
    return jsonify(errorCode=code, errorSummary=summary, errorLink=code,
                   errorId="sandbox", errorCauses=[]), status


def _error_body(status: int) -> tuple[str, dict[str, str]]:
    summary = "API call exceeded rate limit due to too many requests." if status == 429 \
        else f"injected {status}"
    return json.dumps({"errorCode": "E0000047" if status == 429 else "E0000009",
                       "errorSummary": summary}), {"Content-Type": "application/json",
                                                   "X-Rate-Limit-Reset": str(int(time.time()))}


def _user(p: Person) -> dict[str, Any]:
    return {"id": p.id, "status": "ACTIVE" if p.active else "DEPROVISIONED",
            "lastUpdated": iso(p.updated),
            "profile": {"login": p.email, "email": p.email, "firstName": p.given_name,
                        "lastName": p.family_name}}


def _group(t: Team) -> dict[str, Any]:
    return {"id": t.id, "type": "OKTA_GROUP", "lastUpdated": iso(t.updated),
            "lastMembershipUpdated": iso(t.updated), "profile": {"name": t.name}}


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint over the required members."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canon = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=").decode()


class RateBudget:
    """Okta-style per-window budget announced in X-Rate-Limit-* headers."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._start, self._used = time.time(), 0
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int, float]:
        """(allowed, remaining, reset epoch) for one request."""
        with self._lock:
            now = time.time()
            if now >= self._start + self.window:
                self._start, self._used = now, 0
            self._used += 1
            reset = self._start + self.window
            return self._used <= self.limit, max(self.limit - self._used, 0), reset


class OktaOrg:
    """The org's configuration: credentials, the registered client key, DPoP nonces, budget."""

    def __init__(self, directory: Directory, dpop: bool, scopes: set[str],
                 budget: RateBudget | None):
        self.directory = directory
        self.hooks = OktaHooks()
        self.dpop = dpop
        self.scopes = scopes
        self.budget = budget
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        self.public_key = key.public_key()
        self.nonce = secrets.token_urlsafe(16)

    def check_assertion(self, assertion: str, token_url: str) -> str | None:
        """None when the client assertion is good, else the reason."""
        try:
            claims = jwt.decode(assertion, self.public_key, algorithms=["RS256"],
                                audience=token_url, options={"require": ["exp", "iat", "jti"]})
        except jwt.PyJWTError as exc:
            return f"The client_assertion token is invalid: {exc}"
        if claims.get("iss") != CLIENT_ID or claims.get("sub") != CLIENT_ID:
            return "The client_assertion iss and sub must be the client_id."
        return None

    def check_proof(self, proof: str | None, method: str, url: str,
                    access_token: str | None = None) -> tuple[str | None, str | None]:
        """(jkt, None) for a good DPoP proof, else (None, error code)."""
        if not proof:
            return None, "invalid_dpop_proof"
        try:
            header = jwt.get_unverified_header(proof)
            key = jwt.PyJWK(header["jwk"]).key
            claims = jwt.decode(proof, key, algorithms=["ES256", "RS256"])
        except (jwt.PyJWTError, KeyError, ValueError):
            return None, "invalid_dpop_proof"
        if (header.get("typ") != "dpop+jwt" or claims.get("htm") != method
                or claims.get("htu") != url):
            return None, "invalid_dpop_proof"
        if access_token is None and claims.get("nonce") != self.nonce:
            return None, "use_dpop_nonce"
        if access_token is not None:
            ath = base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest())
            if claims.get("ath") != ath.rstrip(b"=").decode():
                return None, "invalid_dpop_proof"
        return jwk_thumbprint(header["jwk"]), None


def _token_endpoint(org: OktaOrg, tokens: TokenIssuer):
    form = request.form
    token_url = request.base_url
    if form.get("grant_type") != "client_credentials":
        return jsonify(error="unsupported_grant_type"), 400
    if form.get("client_id") not in (None, CLIENT_ID):
        return jsonify(error="invalid_client", error_description="Invalid value for 'client_id' "
                       "parameter."), 401
    reason = org.check_assertion(form.get("client_assertion", ""), token_url)
    if reason:
        return jsonify(error="invalid_client", error_description=reason), 401
    asked = set((form.get("scope") or "").split())
    if not asked or not asked <= org.scopes:
        return jsonify(error="invalid_scope", error_description="The following scopes are not "
                       f"granted: {' '.join(sorted(asked - org.scopes))}"), 400
    if not org.dpop:
        return jsonify(tokens.response(client=CLIENT_ID, scope=" ".join(asked)))
    jkt, error = org.check_proof(request.headers.get("DPoP"), "POST", token_url)
    if error:
        answer = jsonify(error=error, error_description="Authorization server requires nonce "
                         "in DPoP proof." if error == "use_dpop_nonce" else "DPoP proof invalid.")
        answer.status_code = 400
        answer.headers["DPoP-Nonce"] = org.nonce
        return answer
    body = tokens.response(client=CLIENT_ID, scope=" ".join(asked), jkt=jkt)
    body["token_type"] = "DPoP"
    return jsonify(body)


def _authorised(org: OktaOrg, tokens: TokenIssuer) -> Any:
    """None when the request's credentials are good, else the 401 answer."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme == "SSWS" and value == API_TOKEN:
        return None
    claims = tokens.check(value) if scheme in ("Bearer", "DPoP") else None
    if claims is None:
        return _okta_error(401, "E0000011", "Invalid token provided")
    if claims.get("jkt"):
        jkt, _ = org.check_proof(request.headers.get("DPoP"), request.method, request.base_url,
                                 access_token=value)
        if scheme != "DPoP" or jkt != claims["jkt"]:
            return _okta_error(400, "invalid_dpop_proof", "The DPoP proof JWT is invalid.")
    return None


def _page(items: list[Any], to_json: Any, default: int, maximum: int) -> Response:
    """One page with Okta's Link headers; `after` is the id of the last item already seen."""
    limit = _limit(default, maximum)
    start = 0
    after = request.args.get("after")
    if after:
        start = next((n + 1 for n, item in enumerate(items) if item.id == after), len(items))
    return _respond(items[start:start + limit], start + limit < len(items), to_json)


def _active_page(people: dict[str, Person]) -> Response:
    """`_page` over the active people, without listing every person for each page: a
    100,000-user org is read in 500 pages, which made reading it quadratic here."""
    limit = _limit(USERS_MAX, USERS_MAX)
    after = request.args.get("after")
    start = 0
    if after:
        start = list(people).index(after) + 1 if after in people else len(people)
    rest = (p for p in itertools.islice(people.values(), start, None) if p.active)
    window = list(itertools.islice(rest, limit + 1))
    return _respond(window[:limit], len(window) > limit, _user)


def _limit(default: int, maximum: int) -> int:
    return max(1, min(int(request.args.get("limit", default)), maximum))


def _respond(page: list[Any], more: bool, to_json: Any) -> Response:
    response = jsonify([to_json(item) for item in page])  # only the page: the sandbox stays cheap
    query = {k: v for k, v in request.args.items() if k != "after"}
    links = [f'<{request.base_url}?{urlencode(query)}>; rel="self"']
    if more:
        query["after"] = page[-1].id
        links.append(f'<{request.base_url}?{urlencode(query)}>; rel="next"')
    response.headers["Link"] = ", ".join(links)
    return response


_SINCE = re.compile(r'(lastUpdated|lastMembershipUpdated) gt "([^"]+)"')


def _since_filter(expression: str | None) -> float | None:
    """The timestamp in `lastUpdated gt "..."` (either clause of an `or`), or None."""
    found = _SINCE.findall(expression or "")
    return min(_parse_iso(ts) for _, ts in found) if found else None


def create_app(org: OktaOrg, tokens: TokenIssuer) -> Flask:
    """The org's token endpoint and Management API."""
    app = Flask("sandbox-okta")
    add_routes(app, org.hooks)  # event hooks (registration, verification)

    @app.post("/oauth2/v1/token")
    def token():
        return _token_endpoint(org, tokens)

    @app.before_request
    def guard():
        if not request.path.startswith("/api/"):
            return None
        denied = _authorised(org, tokens)
        if denied is not None:
            return denied
        claims = tokens.check(request.headers.get("Authorization", " ").split(" ", 1)[1])
        needed = "okta.groups.read" if "/groups" in request.path else "okta.users.read"
        if claims and needed not in claims.get("scope", "").split():
            return _okta_error(403, "E0000006", "You do not have permission to perform the "
                               "requested action")
        return None

    @app.after_request
    def rate_headers(response: Response) -> Response:
        if org.budget and request.path.startswith("/api/"):
            allowed, remaining, reset = org.budget.take()
            response.headers["X-Rate-Limit-Limit"] = str(org.budget.limit)
            response.headers["X-Rate-Limit-Remaining"] = str(remaining)
            response.headers["X-Rate-Limit-Reset"] = str(int(reset) + 1)
            if not allowed:
                limited = _okta_error(429, "E0000047", "API call exceeded rate limit due to "
                                      "too many requests.")[0]
                limited.status_code = 429
                limited.headers.update({k: v for k, v in response.headers.items()
                                        if k.startswith("X-Rate-Limit")})
                return limited
        return response

    @app.get("/api/v1/users")
    def users():
        since = _since_filter(request.args.get("search"))
        if since is None:  # Okta leaves DEPROVISIONED users out unless a search asks
            return _active_page(org.directory.people)
        chosen = [p for p in org.directory.person_list() if p.updated > since]
        return _page(chosen, _user, USERS_MAX, USERS_MAX)

    @app.get("/api/v1/users/<uid>")
    def user(uid: str):
        p = org.directory.people.get(uid)
        return jsonify(_user(p)) if p else _okta_error(404, "E0000007", f"Not found: {uid}")

    @app.get("/api/v1/groups")
    def groups():
        since = _since_filter(request.args.get("filter"))
        teams = [t for t in org.directory.team_list() if since is None or t.updated > since]
        return _page(teams, _group, GROUPS_MAX, GROUPS_MAX)

    @app.get("/api/v1/users/<uid>/groups")
    def user_groups(uid: str):
        if uid not in org.directory.people:
            return _okta_error(404, "E0000007", f"Not found: Resource not found: {uid} (User)")
        teams = [t for t in org.directory.team_list() if uid in t.member_ids]
        return _page(teams, _group, USER_GROUPS_MAX, USER_GROUPS_MAX)

    @app.get("/api/v1/groups/<gid>")
    def group(gid: str):
        team = org.directory.teams.get(gid)
        if team is None:
            return _okta_error(404, "E0000007", f"Not found: Resource not found: {gid} (Group)")
        return jsonify(_group(team))

    @app.get("/api/v1/groups/<gid>/users")
    def members(gid: str):
        team = org.directory.teams.get(gid)
        if team is None:
            return _okta_error(404, "E0000007", f"Not found: Resource not found: {gid} (Group)")
        people = org.directory.people
        return _page([people[i] for i in team.member_ids if i in people], _user,
                     MEMBERS_MAX, MEMBERS_MAX)

    return app


@contextmanager
def serve(directory: Directory, *, latency: float = 0.0, oauth: bool = False,
          dpop: bool = True, scopes: tuple[str, ...] = tuple(sorted(SCOPES)),
          budget: tuple[int, float] | None = None) -> Iterator[SandboxHandle]:
    """Serve `directory` as an Okta org; `oauth` hands out service-app settings, else SSWS.

    `budget=(limit, window_seconds)` announces and enforces Okta's X-Rate-Limit headers.
    """
    org = OktaOrg(directory, dpop, set(scopes), RateBudget(*budget) if budget else None)
    tokens = TokenIssuer(lifetime=3600)

    def settings(url: str) -> dict[str, Any]:
        if oauth:
            return {"org_url": url, "auth_method": "oauth", "client_id": CLIENT_ID,
                    "private_key": org.private_pem, "dpop": dpop}
        return {"org_url": url, "auth_method": "api_token", "api_token": API_TOKEN}

    with serve_app(create_app(org, tokens), latency=latency, tokens=tokens, settings=settings,
                   error_body=_error_body, extra={"org": org, "hooks": org.hooks}) as handle:
        yield handle


def min_requests(directory: Directory) -> int:
    """SSWS (no token call) + user pages + group pages + member pages per group (Link paging)."""
    active = sum(1 for p in directory.people.values() if p.active)
    total = pages(active, USERS_MAX) + pages(len(directory.teams), GROUPS_MAX)
    for team in directory.teams.values():
        total += pages(sum(1 for i in team.member_ids if i in directory.people), MEMBERS_MAX)
    return total
