"""From each IdP's documented event body to `Named`: pure functions, one per format.

Okta event hooks: developer.okta.com/docs/concepts/event-hooks (data.events[], target[] of
type User / UserGroup). Microsoft Graph change notifications:
learn.microsoft.com/graph/change-notifications-delivery-webhooks (value[] with resource,
resourceData.id, clientState; lifecycleEvent). Google Directory push:
developers.google.com/admin-sdk/directory/v1/guides/push (the body is the User resource) and
the Reports API activities.watch (admin activity events with USER_EMAIL / GROUP_EMAIL).
p2-inc/keycloak-events: admin events `admin.<RESOURCE>-<OPERATION>` with resourcePath, user
events `access.<TYPE>` with userId. Our own documented body: app/webhooks/README.md.
"""

from __future__ import annotations

from typing import Any

from app.webhooks.named import BadEvent, Named, everything, text

OKTA_USER_EVENTS = ("user.lifecycle.", "user.account.update_profile", "user.account.update_")
OKTA_GROUP_EVENTS = ("group.lifecycle.", "group.profile.")
OKTA_MEMBERSHIP_EVENTS = ("group.user_membership.add", "group.user_membership.remove")


def okta(body: Any) -> Named:
    """An Okta event hook delivery: users and groups its events' targets name."""
    events = (body.get("data") or {}).get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise BadEvent("an Okta event hook delivery has data.events[]")
    named = Named()
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("eventType"), str):
            raise BadEvent("each of data.events[] has an eventType")
        kind = event["eventType"]
        targets = event.get("target") or []
        if not isinstance(targets, list):
            raise BadEvent("an event's target is a list")
        users = {text(t.get("id"), "target.id") for t in targets
                 if isinstance(t, dict) and t.get("type") == "User"}
        groups = {text(t.get("id"), "target.id") for t in targets
                  if isinstance(t, dict) and t.get("type") == "UserGroup"}
        if kind.startswith(OKTA_MEMBERSHIP_EVENTS) or kind.startswith(OKTA_USER_EVENTS):
            named.user_ids |= users
            if kind.startswith(OKTA_MEMBERSHIP_EVENTS):
                named.group_ids |= groups
        elif kind.startswith(OKTA_GROUP_EVENTS):
            named.group_ids |= groups
        else:
            continue  # a type we did not ask for (sign-ins, apps): nothing of ours changed
        if not users and not groups:
            named.everything = True  # a change we care about that names no one we can see
    return named


def graph_items(body: Any) -> list[dict[str, Any]]:
    """The notifications of a Graph delivery (`value[]`), checked for shape."""
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise BadEvent("a Microsoft Graph notification has a non-empty value[] of objects")
    return items


def graph_change(item: dict[str, Any]) -> Named:
    """One Graph change notification (not a lifecycle one): the user or group it names."""
    resource = item.get("resource")
    data = item.get("resourceData") if isinstance(item.get("resourceData"), dict) else {}
    if not isinstance(resource, str):
        raise BadEvent("a change notification has a resource")
    ident = data.get("id") or resource.rsplit("/", 1)[-1]
    kind = (data.get("@odata.type") or resource.split("/", 1)[0]).lower()
    if "group" in kind:
        return Named(group_ids={text(ident, "resourceData.id")})
    if "user" in kind:
        return Named(user_ids={text(ident, "resourceData.id")})
    return everything()


GOOGLE_MEMBER_EVENTS = {"ADD_GROUP_MEMBER", "REMOVE_GROUP_MEMBER", "UPDATE_GROUP_MEMBER"}


def google(state: str, body: Any) -> Named:
    """A Google push message: a Directory user resource, or a Reports admin activity."""
    if not isinstance(body, dict):
        raise BadEvent("a Google push message carries a JSON object")
    if body.get("kind") == "admin#reports#activity":
        return _google_activity(body)
    ident = body.get("id")
    if ident is None:
        raise BadEvent("a Directory push message carries the user's id")
    named = Named(user_ids={text(ident, "id")})
    if state == "delete" and isinstance(body.get("primaryEmail"), str):
        named.user_names.add(body["primaryEmail"])
    return named


def _google_activity(body: dict[str, Any]) -> Named:
    named = Named()
    for event in body.get("events") or []:
        if not isinstance(event, dict):
            raise BadEvent("an activity's events[] holds objects")
        params = {p.get("name"): p.get("value") for p in event.get("parameters") or []
                  if isinstance(p, dict)}
        if event.get("name") in GOOGLE_MEMBER_EVENTS and params.get("USER_EMAIL"):
            named.user_names.add(text(params["USER_EMAIL"], "USER_EMAIL"))
        elif event.get("type") == "GROUP_SETTINGS":
            named.everything = True  # a group created, renamed or deleted
    return named


KEYCLOAK_USER_EVENTS = {"REGISTER", "UPDATE_PROFILE", "UPDATE_EMAIL", "DELETE_ACCOUNT",
                        "VERIFY_EMAIL"}


def keycloak(body: Any) -> Named:
    """A p2-inc/keycloak-events delivery: an admin event by resource path, or a user event."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise BadEvent("a Keycloak event has a type")
    kind = body["type"]
    if kind.startswith("access."):
        if kind.removeprefix("access.") in KEYCLOAK_USER_EVENTS and body.get("userId"):
            return Named(user_ids={text(body["userId"], "userId")})
        return Named()
    if not kind.startswith("admin."):
        return Named()
    path = body.get("resourcePath")
    if not isinstance(path, str):
        raise BadEvent("a Keycloak admin event has a resourcePath")
    parts = path.strip("/").split("/")
    resource = kind.removeprefix("admin.").split("-", 1)[0]
    if resource == "GROUP_MEMBERSHIP" and len(parts) >= 4 and parts[0] == "users":
        return Named(user_ids={parts[1]}, group_ids={parts[3]})
    if resource == "USER" and len(parts) >= 2 and parts[0] == "users":
        return Named(user_ids={parts[1]})
    if resource == "GROUP" and len(parts) >= 2 and parts[0] == "groups":
        return Named(group_ids={parts[-1]})
    return Named()


STANDARD_TYPES = ("user.created", "user.updated", "user.deleted", "group.created",
                  "group.updated", "group.deleted", "directory.changed")


def standard(body: Any) -> Named:
    """Our documented body (app/webhooks/README.md): `{"type": …, "data": {…}}`."""
    if not isinstance(body, dict) or body.get("type") not in STANDARD_TYPES:
        raise BadEvent(f"type must be one of {', '.join(STANDARD_TYPES)}")
    if body["type"] == "directory.changed":
        return everything()
    data = body.get("data")
    if not isinstance(data, dict):
        raise BadEvent("data must be an object")
    named = Named()
    users = _listed(data, "user", "users")
    groups = _listed(data, "group", "groups")
    for ref in users:
        _user_ref(named, ref)
    for ref in groups:
        _group_ref(named, ref)
    if named.empty():
        raise BadEvent("data names no user or group (use type directory.changed for everything)")
    return named


def _listed(data: dict[str, Any], one: str, many: str) -> list[Any]:
    items = list(data.get(many) or [])
    if data.get(one) is not None:
        items.append(data[one])
    if len(items) > 1000:
        raise BadEvent(f"at most 1000 {many} per event")
    return items


def _user_ref(named: Named, ref: Any) -> None:
    if isinstance(ref, str):
        named.user_names.add(text(ref, "a user reference"))
    elif isinstance(ref, dict) and ref.get("id") is not None:
        named.user_ids.add(text(ref["id"], "user id"))
    elif isinstance(ref, dict) and (ref.get("userName") or ref.get("email")):
        named.user_names.add(text(ref.get("userName") or ref.get("email"), "userName"))
    else:
        raise BadEvent("a user is a string or an object with id, userName or email")


def _group_ref(named: Named, ref: Any) -> None:
    if isinstance(ref, str):
        named.group_names.add(text(ref, "a group reference"))
    elif isinstance(ref, dict) and ref.get("id") is not None:
        named.group_ids.add(text(ref["id"], "group id"))
    elif isinstance(ref, dict) and ref.get("name"):
        named.group_names.add(text(ref["name"], "group name"))
    else:
        raise BadEvent("a group is a string or an object with id or name")
