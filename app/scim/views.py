"""/Users and /Groups: create, read, list, replace, patch and delete, each change one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import Response, current_app, g, request
from sqlalchemy.orm import Session

from app import triggers
from app.extensions import db, redis
from app.models.scim import ScimGroup, ScimUser
from app.scim import access, documents, group_patch, groups, patch, projection, query, users
from app.scim.errors import ScimError
from app.scim.http import (
    ListParams,
    arg,
    check_if_match,
    json_body,
    list_params,
    not_modified,
    respond,
)
from app.scim.listing import page
from app.scim.render import etag, list_response
from app.scim.resource_types import GROUP, USER
from app.scim.routes import base_url, bp


def _changed(session: Session) -> None:
    # Checked again in the writing transaction: a connection disabled while this request ran
    # must still store nothing (raising here rolls the change back).
    refused = access.refusal(session, g.scim_connection_id)
    if refused is not None:
        raise refused
    config = current_app.config
    triggers.notify_change(session, g.scim_connection_id, lambda: redis(config))


def _projection(rtype: Any) -> projection.Projection:
    return projection.parse(rtype, arg("attributes"), arg("excludedAttributes"))


def _one(resource: dict[str, Any], rtype: Any, version: int, status: int = 200) -> Response:
    headers = {"ETag": etag(version)}
    if status == 201:
        headers["Location"] = resource["meta"]["location"]
    return respond(_projection(rtype).apply(resource), status, headers)


def _current(session: Session, store: Any, scim_id: str) -> Any:
    """The resource a change names (`store` is `users` or `groups`), as long as the request's
    If-Match, if any, still names its version."""
    found = store.get(session, g.scim_connection_id, scim_id)
    check_if_match(found.version)
    return found


def _unmodified(version: int) -> Response | None:
    """304 when the request's If-None-Match names this version already."""
    return Response(status=304, headers={"ETag": etag(version)}) if not_modified(version) else None


def _delete(store: Any, scim_id: str) -> Response:
    with db.session() as session:
        session.delete(_current(session, store, scim_id))
        session.flush()
        _changed(session)
    return Response(status=204)


PageReader = Callable[[Session, ListParams], tuple[int, list[dict]]]


def _rows(session: Session, model: Any, scope: Any, sort: Any,
          params: ListParams) -> tuple[int, list[Any]]:
    """One page of a connection's users or groups, as the list parameters ask."""
    return page(session, model, scope, sort, g.scim_connection_id, filter_text=params.filter,
                start=params.start, count=params.count, sort_by=params.sort_by,
                sort_order=params.sort_order)


def _listing(read_page: PageReader) -> Response:
    """A list answer: GET takes the parameters from the query, POST .search from the body."""
    params = list_params(json_body()) if request.method == "POST" else list_params()
    with db.session() as session:
        total, resources = read_page(session, params)
    return respond(list_response(resources, total, params.start))


# ---- Users -------------------------------------------------------------------------------------

@bp.post("/Users")
def create_user() -> Response:
    doc = documents.canonical(USER, json_body())
    documents.check_required(USER, doc)
    with db.session() as session:
        user = users.create(session, g.scim_connection_id, doc)
        _changed(session)
    return _one(users.resource(user, base_url()), USER, user.version, 201)


@bp.get("/Users/<scim_id>")
def get_user(scim_id: str) -> Response:
    with db.session() as session:
        user = users.get(session, g.scim_connection_id, scim_id)
    return _unmodified(user.version) or _one(users.resource(user, base_url()), USER, user.version)


def _user_page(session: Session, params: ListParams) -> tuple[int, list[dict]]:
    shape = projection.parse(USER, params.attributes, params.excluded)
    total, rows = _rows(session, ScimUser, query.USER_SCOPE, query.USER_SORT, params)
    root = base_url()
    return total, [shape.apply(users.resource(u, root)) for u in rows]


@bp.get("/Users")
@bp.post("/Users/.search")
def list_users() -> Response:
    return _listing(_user_page)


@bp.put("/Users/<scim_id>")
def replace_user(scim_id: str) -> Response:
    doc = documents.canonical(USER, json_body())
    documents.check_required(USER, doc)
    with db.session() as session:
        user = _current(session, users, scim_id)
        users.replace(session, user, doc)
        _changed(session)
    return _one(users.resource(user, base_url()), USER, user.version)


@bp.patch("/Users/<scim_id>")
def patch_user(scim_id: str) -> Response:
    operations = patch.parse_operations(json_body())
    with db.session() as session:
        user = _current(session, users, scim_id)
        doc = patch.apply(USER, user.document or {}, operations)
        documents.check_required(USER, doc)
        users.replace(session, user, doc)
        _changed(session)
    return _one(users.resource(user, base_url()), USER, user.version)


@bp.delete("/Users/<scim_id>")
def delete_user(scim_id: str) -> Response:
    return _delete(users, scim_id)


# ---- Groups ------------------------------------------------------------------------------------

def _group_resource(session: Session, group: ScimGroup, shape: projection.Projection) -> dict:
    members = None
    if shape.wants("members"):
        members = groups.members_of(session, [group.pk], base_url()).get(group.pk, [])
    return groups.resource(group, members, base_url())


@bp.post("/Groups")
def create_group() -> Response:
    body = json_body()
    doc = documents.canonical(GROUP, body)
    documents.check_required(GROUP, doc)
    member_ids = groups.member_ids(doc.get("members") or [])
    with db.session() as session:
        group = groups.write(session, groups.new(g.scim_connection_id), doc)
        if member_ids:
            groups.add_members(session, group, member_ids)
        _changed(session)
        resource = _group_resource(session, group, _projection(GROUP))
    return _one(resource, GROUP, group.version, 201)


@bp.get("/Groups/<scim_id>")
def get_group(scim_id: str) -> Response:
    with db.session() as session:
        group = groups.get(session, g.scim_connection_id, scim_id)
        unmodified = _unmodified(group.version)
        if unmodified is not None:
            return unmodified
        resource = _group_resource(session, group, _projection(GROUP))
    return _one(resource, GROUP, group.version)


def _group_page(session: Session, params: ListParams) -> tuple[int, list[dict]]:
    shape = projection.parse(GROUP, params.attributes, params.excluded)
    root = base_url()
    total, rows = _rows(session, ScimGroup, query.GROUP_SCOPE, query.GROUP_SORT, params)
    # Members of the whole page in one query, and none at all for excludedAttributes=members.
    members = groups.members_of(session, [r.pk for r in rows], root) \
        if shape.wants("members") else {}
    return total, [shape.apply(groups.resource(r, members.get(r.pk), root)) for r in rows]


@bp.get("/Groups")
@bp.post("/Groups/.search")
def list_groups() -> Response:
    return _listing(_group_page)


@bp.post("/.search")
def search_all() -> Response:
    """Users then groups, paged as one list; a filter naming what a type lacks matches none of it."""
    params = list_params(json_body())
    found: list[dict] = []
    total = 0
    refused: list[ScimError] = []
    with db.session() as session:
        for page_of in (_user_page, _group_page):
            offset = max(params.start - total, 1)
            wanted = max(params.count - len(found), 0)
            try:
                count, items = page_of(session, replace(params, start=offset, count=wanted))
            except ScimError as error:
                if error.scim_type != "invalidFilter":
                    raise
                refused.append(error)
                count, items = 0, []
            total += count
            found += items
    if len(refused) == 2:
        raise refused[0]
    return respond(list_response(found, total, params.start))


@bp.put("/Groups/<scim_id>")
def replace_group(scim_id: str) -> Response:
    doc = documents.canonical(GROUP, json_body())
    documents.check_required(GROUP, doc)
    member_ids = groups.member_ids(doc.get("members") or [])
    with db.session() as session:
        group = _current(session, groups, scim_id)
        groups.write(session, group, doc)
        groups.replace_members(session, group, member_ids)
        _changed(session)
        resource = _group_resource(session, group, _projection(GROUP))
    return _one(resource, GROUP, group.version)


@bp.patch("/Groups/<scim_id>")
def patch_group(scim_id: str) -> Response:
    """Answers 204 as Entra expects, or 200 with the group when `attributes` asks for it."""
    operations = patch.parse_operations(json_body())
    with db.session() as session:
        group = _current(session, groups, scim_id)
        group_patch.apply(session, group, operations)
        _changed(session)
        wanted = arg("attributes") or arg("excludedAttributes")
        resource = _group_resource(session, group, _projection(GROUP)) if wanted else None
    if resource is None:
        return Response(status=204, headers={"ETag": etag(group.version)})
    return _one(resource, GROUP, group.version)


@bp.delete("/Groups/<scim_id>")
def delete_group(scim_id: str) -> Response:
    return _delete(groups, scim_id)


@bp.route("/Users", methods=["PUT", "PATCH", "DELETE"])
@bp.route("/Groups", methods=["PUT", "PATCH", "DELETE"])
@bp.route("/Users/<scim_id>", methods=["POST"])
@bp.route("/Groups/<scim_id>", methods=["POST"])
def method_not_allowed(**_: str) -> Response:
    raise ScimError(405, "this method does not apply here (bulk changes are not supported)")
