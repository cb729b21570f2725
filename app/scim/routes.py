"""The SCIM blueprint: bearer auth per endpoint, discovery documents, errors in the SCIM shape."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.scim import access, tokens
from app.scim.errors import ScimError, not_found
from app.scim.http import error_response, respond
from app.scim.render import list_response
from app.scim.resource_types import TYPES, service_provider_config
from app.scim.schemas import SCHEMAS, schema_resource

log = logging.getLogger(__name__)
bp = Blueprint("scim", __name__, url_prefix="/scim/v2/<endpoint_id>")
WRITES = ["POST", "PUT", "PATCH", "DELETE"]


@bp.url_value_preprocessor
def _take_endpoint(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    g.scim_endpoint_id = (values or {}).pop("endpoint_id", "")


@bp.url_defaults
def _add_endpoint(_endpoint: str, values: dict[str, Any]) -> None:
    values.setdefault("endpoint_id", g.get("scim_endpoint_id"))


@bp.before_request
def _authenticate() -> Response | None:
    """Every request needs a live bearer token of this endpoint (else 401 with an Error body),
    and a connection that may be served (else 403 or 404, see access.refusal)."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    connection_id = refused = None
    if scheme.lower() == "bearer" and secret.strip():
        with db.session() as session:
            connection_id = tokens.authenticate(session, g.scim_endpoint_id, secret.strip())
            if connection_id is not None:
                refused = access.refusal(session, connection_id)
    if connection_id is None:
        response = error_response(ScimError(401, "a valid bearer token is required"))
        response.headers["WWW-Authenticate"] = 'Bearer realm="SCIM"'
        return response
    if refused is not None:
        return error_response(refused)
    g.scim_connection_id = connection_id
    return None


def base_url() -> str:
    """The public SCIM base URL of this endpoint (locations and $refs are built on it)."""
    root = current_app.config.get("BASE_URL") or request.host_url.rstrip("/")
    return f"{root.rstrip('/')}{tokens.base_path(g.scim_endpoint_id)}"


@bp.errorhandler(ScimError)
def _scim_error(error: ScimError) -> Response:
    return error_response(error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return error_response(ScimError(error.code or 500, error.description or error.name))


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    log.exception("SCIM request failed: %s %s", request.method, request.path)
    return error_response(ScimError(500, "internal error; the change was not stored"))


@bp.get("/ServiceProviderConfig")
def get_service_provider_config() -> Response:
    return respond(service_provider_config(base_url()))


@bp.get("/ResourceTypes")
def list_resource_types() -> Response:
    items = [t.to_scim(base_url()) for t in TYPES.values()]
    return respond(list_response(items, len(items), 1))


@bp.get("/ResourceTypes/<name>")
def get_resource_type(name: str) -> Response:
    if name not in TYPES:
        raise not_found(f"no ResourceType {name!r}")
    return respond(TYPES[name].to_scim(base_url()))


@bp.get("/Schemas")
def list_schemas() -> Response:
    items = [schema_resource(urn, base_url()) for urn in SCHEMAS]
    return respond(list_response(items, len(items), 1))


@bp.get("/Schemas/<path:urn>")
def get_schema(urn: str) -> Response:
    if urn not in SCHEMAS:
        raise not_found(f"no Schema {urn!r}")
    return respond(schema_resource(urn, base_url()))


@bp.route("/ServiceProviderConfig", methods=WRITES)
@bp.route("/ResourceTypes", methods=WRITES)
@bp.route("/ResourceTypes/<name>", methods=WRITES)
@bp.route("/Schemas", methods=WRITES)
@bp.route("/Schemas/<path:urn>", methods=WRITES)
def discovery_is_read_only(**_: str) -> Response:
    raise ScimError(405, "discovery endpoints are read-only")


@bp.route("/<path:rest>", methods=["GET", *WRITES])
def unknown(rest: str) -> Response:
    raise not_found(f"no SCIM endpoint /{rest}")
