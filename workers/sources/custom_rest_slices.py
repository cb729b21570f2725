"""One user or one group from a custom REST API, through the optional one-item endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from workers.sources import json_path
from workers.sources.base import SourceError, SourceNotFound
from workers.sources.custom_rest_records import group_from, member_ids, to_user
from workers.sources.records import every
from workers.sync.model import Group, GroupSlice, User, UserSlice

if TYPE_CHECKING:
    from workers.sources.custom_rest import CustomRestSource, Paging


def _path(template: str, item_id: str) -> str:
    return template.replace("{id}", quote(item_id, safe=""))


def _item(source: CustomRestSource, template: str, item_id: str) -> Any:
    """The object one endpoint answers with (at the item path), or None on 404."""
    try:
        body = source.client.get_json(_path(template, item_id))
    except SourceNotFound:
        return None
    found = json_path.get(body, source.settings.item_path)
    if not isinstance(found, dict):
        raise SourceError(f"The answer of {_path(template, item_id)} has no object at "
                          f"{source.settings.item_path or 'the top level'!r}: check the item path.")
    return found


def _user(source: CustomRestSource, item: Any) -> User:
    user = to_user(source.settings, item)
    if user is None:
        raise SourceError(f"A user without {source.settings.user_id_path!r}: {str(item)[:120]}")
    return user


def _group(source: CustomRestSource, item: Any) -> Group:
    group = group_from(source.settings, item)
    if group is None:
        raise SourceError(f"A group without {source.settings.group_id_path!r}: {str(item)[:120]}")
    return group


def fetch_user(source: CustomRestSource, paging: Paging, user_id: str) -> UserSlice:
    """The user endpoint, then every page of the user's groups endpoint."""
    s = source.settings
    item = _item(source, s.user_path, user_id)
    if item is None:
        return UserSlice(user_id, None)
    pages = paging.pages(_path(s.user_groups_path, user_id), s.items_path)
    return UserSlice(user_id, _user(source, item),
                     tuple(_group(source, g) for page in pages for g in page))


def fetch_group(source: CustomRestSource, paging: Paging, group_id: str) -> GroupSlice:
    """The group endpoint, its members (embedded or the members endpoint), each member's user."""
    s = source.settings
    item = _item(source, s.group_path, group_id)
    if item is None:
        return GroupSlice(group_id, None)
    members = (json_path.get(item, s.group_members_path) if s.members == "embedded"
               else source.read_members(s, paging, group_id))
    found = every(source.client.map_concurrent(
        lambda uid: _item(source, s.user_path, uid), member_ids(s, members)))
    # a member whose user is gone (deleted meanwhile) is no member
    users = tuple(_user(source, u) for _, u in found if u is not None)
    return GroupSlice(group_id, _group(source, item), users)
