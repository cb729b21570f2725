"""Custom REST records: users and groups read from API items through the settings' JSON paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.flags import flag
from workers.sources import json_path
from workers.sync.model import Group, User


def as_bool(value: Any, default: bool = True) -> bool:
    """A JSON flag as bool (true/false, 1/0, "yes"/"no", "active"/"disabled"); None → default."""
    return flag(value, default)


def as_text(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)


def to_user(config: Mapping[str, Any], item: Any) -> User | None:
    """A User from one item as the settings' JSON paths describe it; None without an id."""
    user_id = as_text(json_path.get(item, config["user_id_path"]))
    if not user_id:
        return None
    active = True
    if config["user_active_path"]:
        flag = json_path.get(item, config["user_active_path"])
        active = as_bool(flag) != config["user_active_inverted"] if flag is not None else True
    return User(id=user_id, email=as_text(json_path.get(item, config["user_email_path"])),
                display_name=as_text(json_path.get(item, config["user_name_path"]))
                if config["user_name_path"] else "", active=active)


def group_from(config: Mapping[str, Any], item: Any) -> Group | None:
    """A Group from one item (its parent as the item names it); None without an id."""
    gid = as_text(json_path.get(item, config["group_id_path"]))
    if not gid:
        return None
    parent = (as_text(json_path.get(item, config["group_parent_path"]))
              if config["group_parent_path"] else "")
    return Group(id=gid, name=as_text(json_path.get(item, config["group_name_path"])) or gid,
                 parent_ids=(parent,) if parent else ())


def member_ids(config: Mapping[str, Any], members: Any) -> list[str]:
    """The user ids in a list of member items (non-lists hold none)."""
    ids = (as_text(json_path.get(m, config["member_id_path"]))
           for m in (members if isinstance(members, list) else []))
    return [i for i in ids if i]
