"""What the mapping editor's pickers offer: the IdP's groups and the site's groups."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app import extensions
from app.admin import tenancy
from app.admin.api import Context, operation
from app.admin.errors import ApiError
from app.admin.schemas import common
from app.admin.schemas import credential as s
from app.admin.site import site_for
from workers.atlassian.errors import AtlassianError
from workers.sources.base import SourceError

TAG = "mapping"
PICKER_LIMIT = 1000


def _matches(name: str, query: str) -> bool:
    return not query or query.casefold() in name.casefold()


@operation("/connections/<int:connection_id>/idp-groups", "GET",
           summary="The IdP's groups, read live, for the mapping table", tag=TAG,
           query=common.NameQuery, answer=s.IdpGroupList, errors=(404, 502))
def idp_groups(ctx: Context, connection_id: int) -> dict[str, Any]:
    from workers.sync.engine import make_source

    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        session.expunge(conn)
    try:
        snapshot = make_source(conn, extensions.secrets.decrypt,
                               bool(current_app.config["ALLOW_PRIVATE_URLS"])).fetch()
    except (SourceError, ValueError) as exc:
        raise ApiError(502, f"the IdP's groups could not be read: "
                            f"{getattr(exc, 'message', None) or exc}") from None
    query = ctx.query["query"]
    found = sorted((g for g in snapshot.groups.values() if _matches(g.name, query)),
                   key=lambda g: g.name.casefold())
    return {"items": [{"id": g.id, "name": g.name, "members": len(snapshot.members.get(g.id, ()))}
                      for g in found[:PICKER_LIMIT]],
            "complete": snapshot.complete and len(found) <= PICKER_LIMIT}


@operation("/site-groups", "GET", summary="The site's groups, for the mapping table", tag=TAG,
           query=common.NameQuery, answer=s.SiteGroupList, errors=(502,))
def site_groups(ctx: Context) -> dict[str, Any]:
    try:
        groups = site_for(ctx.caller.installation.id).list_groups()
    except AtlassianError as exc:
        raise ApiError(502, f"the site's groups could not be read: {exc.message}") from None
    query = ctx.query["query"]
    found = sorted((g for g in groups if _matches(g.name, query)), key=lambda g: g.name.casefold())
    return {"items": [{"id": g.group_id, "name": g.name} for g in found[:PICKER_LIMIT]]}
