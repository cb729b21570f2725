"""A connection's mapping, schedule and deprovision/guard policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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


def _shown(ctx: Context, connection_id: int, view: Callable[[Connection], dict[str, Any]],
           ) -> dict[str, Any]:
    """One of the caller's connections, as `view` presents it (404 when not theirs)."""
    with extensions.db.session() as session:
        return view(tenancy.connection(session, ctx.caller, connection_id))


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


@operation("/connections/<int:connection_id>/mapping", "GET", summary="Group mapping", tag=TAG,
           answer=s.Mapping, errors=(404,))
def get_mapping(ctx: Context, connection_id: int) -> dict[str, Any]:
    return _shown(ctx, connection_id, mapping_of)


@operation("/connections/<int:connection_id>/mapping", "PUT", summary="Replace the mapping",
           tag=TAG, body=s.Mapping, answer=s.Mapping, errors=(400, 404))
def put_mapping(ctx: Context, connection_id: int) -> dict[str, Any]:
    body = ctx.body
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        conn.mapping_mode = body["mode"]
        conn.mapping = {"prefix": body["transform"]["prefix"], "case": body["transform"]["case"],
                        "flatten_nested": body["flatten_nested"]}
        conn.group_mappings = [GroupMapping(position=i, idp_group=r["idp_group"],
                                            atlassian_groups=list(r["groups"]))
                               for i, r in enumerate(body["rules"])]
        conn.filters = dict(body["filters"])
        conn.default_groups = list(body["default_groups"])
        _checked(conn)
        session.flush()
        return mapping_of(conn)


def schedule_of(conn: Connection) -> dict[str, Any]:
    return {"schedule": conn.schedule, "next_run_at": conn.next_run_at}


@operation("/connections/<int:connection_id>/schedule", "GET", summary="When it syncs", tag=TAG,
           answer=s.Schedule, errors=(404,))
def get_schedule(ctx: Context, connection_id: int) -> dict[str, Any]:
    return _shown(ctx, connection_id, schedule_of)


@operation("/connections/<int:connection_id>/schedule", "PUT", summary="Change the schedule",
           tag=TAG, body=s.Schedule, answer=s.Schedule, errors=(400, 404))
def put_schedule(ctx: Context, connection_id: int) -> dict[str, Any]:
    try:
        value = schedules.normalise(ctx.body["schedule"])
    except schedules.ScheduleError as exc:
        raise validation({"schedule": [str(exc)]}) from None
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
        conn.schedule = value
        conn.next_run_at = schedules.next_run(value, datetime.now(UTC))
        return schedule_of(conn)


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


@operation("/connections/<int:connection_id>/policy", "GET",
           summary="Deprovisioning, guard thresholds and protected accounts", tag=TAG,
           answer=s.Policy, errors=(404,))
def get_policy(ctx: Context, connection_id: int) -> dict[str, Any]:
    return _shown(ctx, connection_id, policy_of)


@operation("/connections/<int:connection_id>/policy", "PUT", summary="Replace the policy",
           tag=TAG, body=s.Policy, answer=s.Policy, errors=(400, 404))
def put_policy(ctx: Context, connection_id: int) -> dict[str, Any]:
    body = ctx.body
    with extensions.db.session() as session:
        conn = tenancy.connection(session, ctx.caller, connection_id)
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
        return policy_of(conn)
