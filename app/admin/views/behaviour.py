"""A connection's mapping, schedule and deprovision/guard policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema

from app import extensions
from app.admin import tenancy
from app.admin.api import Context, operation
from app.admin.errors import validation
from app.admin.schemas import config as s
from app.models import Connection, GroupMapping
from workers import cadence as schedules
from workers.sync.policy import PolicyError, from_connection

TAG = "behaviour"
_SETTING = re.compile(r"^([A-Za-z_][\w.\[\]]*)")


# The worker's setting names → the admin API's field paths, where they differ.
POLICY_FIELDS = {"policy.products": "invite_products", "policy.max_removal_percent":
                 "guard.max_removal_percent", "policy.max_users_affected": "guard.max_users_affected",
                 "policy.empty_hold_min_previous": "guard.empty_hold_min_previous"}


def _checked(conn: Connection) -> None:
    """Everything the worker will read must also pass the worker's own policy reader."""
    try:
        from_connection(conn.mapping_mode, conn.mapping_config(), conn.filters,
                        conn.default_groups, conn.deprovision, conn.policy)
    except PolicyError as exc:
        found = _SETTING.match(str(exc))
        path = found.group(1).replace("[", ".").replace("]", "") if found else "_body"
        path = POLICY_FIELDS.get(path, path.removeprefix("policy.").removeprefix("mapping."))
        raise validation({path: [str(exc)]}) from None


def _routes(part: str, schema: type[Schema], view: Callable[[Connection], dict[str, Any]],
            change: Callable[[Connection, dict[str, Any]], None], *, read: str, write: str) -> None:
    """GET and PUT /connections/<id>/<part>: one of the caller's connections (404 when not
    theirs) as `view` presents it, and `change(conn, body)` writing the body into it."""
    rule = f"/connections/<int:connection_id>/{part}"

    def get(ctx: Context, connection_id: int) -> dict[str, Any]:
        with extensions.db.session() as session:
            return view(tenancy.connection(session, ctx.caller, connection_id))

    def put(ctx: Context, connection_id: int) -> dict[str, Any]:
        with extensions.db.session() as session:
            conn = tenancy.connection(session, ctx.caller, connection_id)
            change(conn, ctx.body)
            session.flush()
            return view(conn)

    get.__name__, put.__name__ = f"get_{part}", f"put_{part}"
    operation(rule, "GET", summary=read, tag=TAG, answer=schema, errors=(404,))(get)
    operation(rule, "PUT", summary=write, tag=TAG, body=schema, answer=schema,
              errors=(400, 404))(put)


def mapping_of(conn: Connection) -> dict[str, Any]:
    stored, filters = conn.mapping or {}, conn.filters or {}
    return {"mode": conn.mapping_mode or "on_the_fly",
            "transform": {"prefix": stored.get("prefix", ""), "case": stored.get("case", "keep")},
            "flatten_nested": stored.get("flatten_nested", True),
            "rules": [{"idp_group": m.idp_group, "groups": list(m.atlassian_groups)}
                      for m in conn.group_mappings],
            "filters": {"include": filters.get("include", []), "exclude": filters.get("exclude", []),
                        "active_only": filters.get("active_only", True),
                        "members_only": filters.get("members_only", True),
                        "email_domains": filters.get("email_domains", [])},
            "default_groups": list(conn.default_groups or [])}


def change_mapping(conn: Connection, body: dict[str, Any]) -> None:
    conn.mapping_mode = body["mode"]
    conn.mapping = {"prefix": body["transform"]["prefix"], "case": body["transform"]["case"],
                    "flatten_nested": body["flatten_nested"]}
    conn.group_mappings = [GroupMapping(position=i, idp_group=r["idp_group"],
                                        atlassian_groups=list(r["groups"]))
                           for i, r in enumerate(body["rules"])]
    conn.filters = dict(body["filters"])
    conn.default_groups = list(body["default_groups"])
    _checked(conn)


_routes("mapping", s.Mapping, mapping_of, change_mapping,
        read="Group mapping", write="Replace the mapping")


def schedule_of(conn: Connection) -> dict[str, Any]:
    return {"schedule": conn.schedule, "next_run_at": conn.next_run_at}


def change_schedule(conn: Connection, body: dict[str, Any]) -> None:
    try:
        value = schedules.normalise(body["schedule"])
    except schedules.ScheduleError as exc:
        raise validation({"schedule": [str(exc)]}) from None
    conn.schedule = value
    conn.next_run_at = schedules.next_run(value, datetime.now(UTC))


_routes("schedule", s.Schedule, schedule_of, change_schedule,
        read="When it syncs", write="Change the schedule")


def policy_of(conn: Connection) -> dict[str, Any]:
    stored = conn.policy or {}
    return {"deprovision": conn.deprovision or "remove_from_groups",
            "on_unmatched": stored.get("on_unmatched", "invite"),
            "invite_products": list(stored.get("products", [])),
            "invite_domains": stored.get("invite_domains"),
            "adopt_existing_groups": bool(stored.get("adopt_existing_groups", False)),
            "product_access_groups": list(stored.get("product_access_groups", [])),
            "guard": {"max_removal_percent": stored.get("max_removal_percent", 10.0),
                      "max_users_affected": stored.get("max_users_affected", 50),
                      "empty_hold_min_previous": stored.get("empty_hold_min_previous", 10)},
            "protected_account_ids": list(stored.get("protected_account_ids", []))}


def change_policy(conn: Connection, body: dict[str, Any]) -> None:
    conn.deprovision = body["deprovision"]
    # Keys this form does not know (set by the CLI or a newer worker) are kept.
    policy = {**(conn.policy or {}), "on_unmatched": body["on_unmatched"],
              "products": body["invite_products"],
              "product_access_groups": body["product_access_groups"],
              "adopt_existing_groups": body["adopt_existing_groups"],
              **body["guard"], "protected_account_ids": body["protected_account_ids"]}
    if body["invite_domains"] is None:
        policy.pop("invite_domains", None)  # the next complete read fills it from the IdP
    else:
        policy["invite_domains"] = body["invite_domains"]
    conn.policy = policy
    _checked(conn)


_routes("policy", s.Policy, policy_of, change_policy,
        read="Deprovisioning, guard thresholds and protected accounts", write="Replace the policy")
