"""Creating and describing connections: validation shared by the CLI and the admin API."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Connection, GroupMapping, Installation, InstallationState
from workers import cadence as schedule
from workers.sources import registry
from workers.sources.base import secret_fields
from workers.sync.policy import PolicyError, from_connection

MAPPING_KEYS = {"prefix", "case", "rules", "flatten_nested"}
DEFAULT_SCHEDULE = "hour"
"""The schedule of a new connection whose mapping names none."""


class ConnectionInvalid(ValueError):
    """The connection's settings or mapping are wrong; the message says which and why."""


def create(session: Session, *, client_key: str, kind: str, name: str, settings: dict[str, Any],
           mapping: dict[str, Any] | None = None, encrypt) -> Connection:  # type: ignore[no-untyped-def]
    """Validate everything, store secrets encrypted, and add the connection to `session`."""
    inst = session.scalars(select(Installation).where(Installation.client_key == client_key)).first()
    if inst is None or inst.state == InstallationState.UNINSTALLED:
        raise ConnectionInvalid(f"no installed site has client key {client_key!r}")
    plain, secret = validate_settings(kind, settings)
    conn = Connection(installation_id=inst.id, name=name.strip() or kind, kind=kind, enabled=True,
                      settings=plain, pending_changes=False, schedule=DEFAULT_SCHEDULE)
    apply_mapping(conn, mapping or {})
    conn.set_secrets(secret, encrypt)
    session.add(conn)
    session.flush()
    return conn


def validate_settings(kind: str, settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(non-secret, secret) settings after the source's schema validated them."""
    try:
        cls = registry.get(kind)
    except KeyError as exc:
        raise ConnectionInvalid(str(exc.args[0])) from None
    try:
        loaded = cls.settings_schema().load(settings)
    except ValidationError as exc:
        raise ConnectionInvalid(f"invalid {kind} settings: {exc.messages}") from None
    secrets = set(secret_fields(cls.settings_schema))
    dumped = cls.settings_schema().dump(loaded)
    return ({k: v for k, v in dumped.items() if k not in secrets},
            {k: loaded[k] for k in secrets if loaded.get(k) is not None})


def apply_mapping(conn: Connection, spec: dict[str, Any]) -> None:
    """Set mapping, filters, defaults, policy and schedule from one JSON object, validated."""
    unknown = set(spec) - MAPPING_KEYS - {"mode", "filters", "default_groups", "deprovision",
                                          "policy", "schedule"}
    if unknown:
        raise ConnectionInvalid(f"unknown mapping key(s): {', '.join(sorted(unknown))}")
    conn.mapping_mode = spec.get("mode", conn.mapping_mode or "on_the_fly")
    if any(k in spec for k in MAPPING_KEYS):
        conn.mapping = {k: v for k, v in spec.items() if k in MAPPING_KEYS and k != "rules"}
    if "rules" in spec:
        if not isinstance(spec["rules"], list):
            raise ConnectionInvalid("mapping.rules must be a list of {idp_group, groups}")
        conn.group_mappings = [_rule_row(i, rule) for i, rule in enumerate(spec["rules"])]
    conn.filters = spec.get("filters", conn.filters or {})
    conn.default_groups = spec.get("default_groups", conn.default_groups or [])
    conn.deprovision = spec.get("deprovision", conn.deprovision or "remove_from_groups")
    conn.policy = spec.get("policy", conn.policy or {})
    try:
        from_connection(conn.mapping_mode, conn.mapping_config(), conn.filters,
                        conn.default_groups, conn.deprovision, conn.policy)
        if "schedule" in spec:  # absent: the connection keeps its schedule, manual included
            conn.schedule = schedule.normalise(spec["schedule"])
    except (PolicyError, schedule.ScheduleError) as exc:
        raise ConnectionInvalid(str(exc)) from None


def _rule_row(position: int, rule: Any) -> GroupMapping:
    if not isinstance(rule, dict) or not isinstance(rule.get("idp_group"), str):
        raise ConnectionInvalid(f"mapping.rules[{position}] needs an idp_group name or id")
    groups = rule.get("groups")
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not groups:
        raise ConnectionInvalid(f"mapping.rules[{position}].groups names no Atlassian group")
    return GroupMapping(position=position, idp_group=rule["idp_group"], atlassian_groups=groups)


def describe(conn: Connection) -> dict[str, Any]:
    """A connection as the admin sees it: never a secret."""
    return {"id": conn.id, "name": conn.name, "kind": conn.kind, "enabled": conn.enabled,
            "site": conn.installation.base_url, "settings": conn.settings,
            "mapping_mode": conn.mapping_mode, "mapping": conn.mapping_config(),
            "schedule": conn.schedule,
            "next_run_at": conn.next_run_at.isoformat() if conn.next_run_at else None,
            "last_run_at": conn.last_run_at.isoformat() if conn.last_run_at else None}
