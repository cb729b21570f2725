"""A sandbox in-house people API with a shape of its own, for the configurable custom REST source.

People and teams live under `data.items`; the active flag is inverted (`isDisabled`); e-mails
sit in `contact.emails[0]`; team members are embedded as `people[].ref.uid` and also served by
`/teams/<key>/people`; one person, their teams and one team are `/people/<uid>`,
`/people/<uid>/teams` and `/teams/<key>` (the object under `data`). Each paging style has its own route family: `/v2` page numbers (the
default), `/offset` offset/limit, `/cursor` a cursor in `meta.nextCursor`, `/link` a Link
header, `/next` a relative next URL in `links.next`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from math import ceil
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, request

from sandbox.idps.common import SandboxHandle, TokenIssuer, bearer, serve_app
from sandbox.idps.directory import Directory, Person, Team

KIND = "custom_rest"
MAX_PAGE = 100
API_KEY = "custom-rest-sandbox-key"
USERNAME, PASSWORD = "sync", "custom-rest-sandbox-password"
CLIENT_ID, CLIENT_SECRET = "usersync", "custom-rest-sandbox-secret"
STYLES = ("v2", "offset", "cursor", "link", "next")


def person(p: Person) -> dict[str, Any]:
    return {"uid": p.id, "handle": p.username, "fullName": p.display_name,
            "contact": {"emails": [p.email], "phone": None}, "isDisabled": not p.active}


def team(directory: Directory, t: Team) -> dict[str, Any]:
    return {"key": t.id, "title": t.name, "parentKey": t.parent_id,
            "people": [{"ref": {"uid": i}} for i in t.member_ids if i in directory.people]}


def _size() -> int:
    return max(1, min(int(request.args.get("per_page", 20)), MAX_PAGE))


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1])


def paginate(style: str, items: list[Any], render: Any = lambda item: item) -> Any:
    """One page of `items` in `style`, wrapped as this API wraps every list; only the page
    is rendered, so a page costs the same however big the directory is."""
    size = _size()
    if style == "v2":
        start = (max(int(request.args.get("page", 1)), 1) - 1) * size
    elif style == "offset":
        start = max(int(request.args.get("offset", 0)), 0)
    elif style == "cursor":
        start = _offset(request.args["after"]) if request.args.get("after") else 0
    else:
        start = max(int(request.args.get("from", 0)), 0)
    page = [render(item) for item in items[start: start + size]]
    more = start + size < len(items)
    body: dict[str, Any] = {"data": {"items": page, "total": len(items)}, "meta": {}}
    headers: dict[str, str] = {}
    following = urlencode({"from": start + size, "per_page": size})
    if style == "cursor":
        body["meta"]["nextCursor"] = _cursor(start + size) if more else None
    elif style == "link" and more:
        headers["Link"] = f'<{request.base_url}?{following}>; rel="next"'
    elif style == "next":
        body["links"] = {"next": f"{request.path.rsplit('/', 1)[-1]}?{following}" if more
                         else None}
    return jsonify(body), 200, headers


def create_app(directory: Directory, tokens: TokenIssuer) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def authenticate():
        if request.path == "/oauth/token":
            return None
        auth = request.authorization
        if request.headers.get("X-Api-Key") == API_KEY or tokens.check(
                bearer(request.headers.get("Authorization"))) is not None:
            return None
        if auth and auth.type == "basic" and (auth.username, auth.password) == (USERNAME,
                                                                                 PASSWORD):
            return None
        return jsonify(message="missing or invalid credentials"), 401

    @app.post("/oauth/token")
    def token():
        auth = request.authorization
        pair = (auth.username, auth.password) if auth else (request.form.get("client_id"),
                                                            request.form.get("client_secret"))
        if pair != (CLIENT_ID, CLIENT_SECRET):
            return jsonify(error="invalid_client"), 401
        return jsonify(tokens.response(client=pair[0]))

    @app.get("/<style>/people")
    def people(style: str):
        if style not in STYLES:
            return jsonify(message=f"no such API version {style}"), 404
        return paginate(style, directory.person_list(), person)

    @app.get("/<style>/teams")
    def teams(style: str):
        if style not in STYLES:
            return jsonify(message=f"no such API version {style}"), 404
        return paginate(style, directory.team_list(), lambda t: team(directory, t))

    @app.get("/<style>/people/<uid>")
    def one_person(style: str, uid: str):
        found = directory.people.get(uid)
        if style not in STYLES or found is None:
            return jsonify(message="no such person"), 404
        return jsonify(data=person(found))

    @app.get("/<style>/people/<uid>/teams")
    def person_teams(style: str, uid: str):
        if style not in STYLES or uid not in directory.people:
            return jsonify(message="no such person"), 404
        return paginate(style, [t for t in directory.team_list() if uid in t.member_ids],
                        lambda t: team(directory, t))

    @app.get("/<style>/teams/<key>")
    def one_team(style: str, key: str):
        found = directory.teams.get(key)
        if style not in STYLES or found is None:
            return jsonify(message="no such team"), 404
        return jsonify(data=team(directory, found))

    @app.get("/<style>/teams/<key>/people")
    def team_people(style: str, key: str):
        found = directory.teams.get(key)
        if style not in STYLES or found is None:
            return jsonify(message="no such team"), 404
        return paginate(style, team(directory, found)["people"])

    return app


def style_settings(url: str, style: str = "v2") -> dict[str, Any]:
    """Custom REST settings that read this API in `style` with embedded members."""
    paging = {"v2": {"paging": "page", "page_param": "page", "first_page": 1,
                     "total_path": "data.total"},
              "offset": {"paging": "offset", "offset_param": "offset"},
              "cursor": {"paging": "cursor", "cursor_param": "after",
                         "cursor_path": "meta.nextCursor"},
              "link": {"paging": "link"},
              "next": {"paging": "next_url", "next_url_path": "links.next"}}[style]
    return {"base_url": url, "auth": "api_key", "api_key_header": "X-Api-Key",
            "api_key": API_KEY, "users_path": f"/{style}/people", "groups_path": f"/{style}/teams",
            "members": "embedded", "group_members_path": "people", "member_id_path": "ref.uid",
            "size_param": "per_page", "page_size": MAX_PAGE, "items_path": "data.items",
            "user_id_path": "uid", "user_email_path": "contact.emails[0]",
            "user_name_path": "fullName", "user_active_path": "isDisabled",
            "user_active_inverted": True, "group_id_path": "key", "group_name_path": "title",
            "group_parent_path": "parentKey", "user_path": f"/{style}/people/{{id}}",
            "user_groups_path": f"/{style}/people/{{id}}/teams",
            "group_path": f"/{style}/teams/{{id}}", "item_path": "data", **paging}


@contextmanager
def serve(directory: Directory, *, latency: float = 0.0) -> Iterator[SandboxHandle]:
    """Serve `directory`; `.settings` read it with page-number paging and an API key."""
    tokens = TokenIssuer(lifetime=3600)
    with serve_app(create_app(directory, tokens), latency=latency, tokens=tokens,
                   settings=style_settings) as handle:
        handle.extra["oauth"] = {"auth": "oauth", "token_url": handle.url + "/oauth/token",
                                 "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        handle.extra["basic"] = {"auth": "basic", "username": USERNAME, "password": PASSWORD}
        yield handle


def min_requests(directory: Directory) -> int:
    """Pages of people and of teams (members embedded, totals known), no token call."""
    return max(1, ceil(len(directory.people) / MAX_PAGE)) + \
        max(1, ceil(len(directory.teams) / MAX_PAGE))
