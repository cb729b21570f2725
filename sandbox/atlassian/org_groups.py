"""Organization API v2 writes: groups, memberships and invites in a directory, with an org API key."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .gateway import _org_error, _org_v2
from .site import SYNCED_GROUP, Invalid, LicenceExceeded, NotFound, SiteGroup

bp = Blueprint("org_groups", __name__)

GROUP_NAME_MAX = 255  # Atlassian's group names are at most 255 characters
INVITE_MAX = 10  # e-mails per invite call (our limit; the admin API does not document one)
INVITE_ROLES = ("atlassian/user", "atlassian/admin", "atlassian/guest", "atlassian/contributor",
                "atlassian/customer", "atlassian/basic", "atlassian/stakeholder",
                "atlassian/viewer")
USER_LIMIT = ("You can't add a user to a group if you've exceeded your user limit for an app "
              "that the group grants access to. Increase your user limit or suspend another "
              "user from the app first.")
PAID_ONLY = ("This API is only available to customers who have at least one paid "
             "subscription in their organization.")


def _site():
    return current_app.extensions["atlassian-sandbox"].site


def _directory(org_id: str, directory_id: str) -> Response | None:
    """A write names one directory: `-` (every directory) is for searches only."""
    error = _org_v2(org_id, directory_id)
    if error is None and directory_id == "-":
        error = _org_error(400, "Bad Request", "Name the directory to change a group in.")
    return error


def _group(org_id: str, directory_id: str, group_id: str) -> tuple[SiteGroup | None,
                                                                   Response | None]:
    error = _directory(org_id, directory_id)
    if error:
        return None, error
    try:
        return _site().group(group_id), None
    except NotFound:
        return None, _org_error(404, "Not Found", f"Group {group_id} not found")


def _body() -> tuple[dict[str, Any], Response | None]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {}, _org_error(400, "Bad Request", "The request body must be a JSON object.")
    return body, None


@bp.post("/admin/v2/orgs/<org_id>/directories/<directory_id>/groups")
def create_group(org_id: str, directory_id: str) -> Response:
    """Creates the group; the documented operation answers no body (jira.js `createGroup`)."""
    error = _directory(org_id, directory_id)
    body, bad = _body()
    if error or bad:
        return error or bad  # type: ignore[return-value]
    name, description = body.get("name"), body.get("description")
    if not isinstance(name, str) or not name.strip() or len(name) > GROUP_NAME_MAX:
        return _org_error(400, "Bad Request",
                          f"name must be a non-empty string of at most {GROUP_NAME_MAX} characters.")
    if description is not None and not isinstance(description, str):
        return _org_error(400, "Bad Request", "description must be a string.")
    unknown = set(body) - {"name", "description"}
    if unknown:
        return _org_error(400, "Bad Request", f"Unrecognized field(s): {', '.join(sorted(unknown))}")
    try:
        _site().add_group(name)
    except Invalid:
        return _org_error(409, "Conflict", f"A group named {name.strip()} already exists.")
    return Response(status=201)


@bp.delete("/admin/v2/orgs/<org_id>/directories/<directory_id>/groups/<group_id>")
def delete_group(org_id: str, directory_id: str, group_id: str) -> Response:
    group, error = _group(org_id, directory_id, group_id)
    if error:
        return error
    if group.external_synced:
        return _org_error(400, "Bad Request", "You can't delete a group synced from an identity "
                          "provider. Manage this group in your identity provider instead.")
    _site().delete_group(group.group_id)
    return Response(status=204)


@bp.post("/admin/v2/orgs/<org_id>/directories/<directory_id>/groups/<group_id>/memberships")
def add_membership(org_id: str, directory_id: str, group_id: str) -> Response:
    group, error = _group(org_id, directory_id, group_id)
    body, bad = _body()
    if error or bad:
        return error or bad  # type: ignore[return-value]
    account_id = body.get("accountId")
    if not isinstance(account_id, str) or not account_id:
        return _org_error(400, "Bad Request", "accountId is required.")
    return _membership(lambda: _site().add_member(group.group_id, account_id), account_id)


@bp.delete("/admin/v2/orgs/<org_id>/directories/<directory_id>/groups/<group_id>/memberships/"
           "<account_id>")
def remove_membership(org_id: str, directory_id: str, group_id: str, account_id: str) -> Response:
    group, error = _group(org_id, directory_id, group_id)
    if error:
        return error
    return _membership(lambda: _site().remove_member(group.group_id, account_id), account_id)


def _membership(change, account_id: str) -> Response:  # type: ignore[no-untyped-def]
    try:
        change()
    except NotFound:
        return _org_error(404, "Not Found", f"User {account_id} not found")
    except LicenceExceeded as exc:
        return _org_error(400, "Bad Request", f"{USER_LIMIT} ({exc})")
    except Invalid as exc:
        text = str(exc)
        if text == SYNCED_GROUP:
            return _org_error(400, "Bad Request", text)
        # "already a member" / "not a member": the org API's words are not documented
        return _org_error(409, "Conflict", text.replace("Cannot add user. ", "")
                          .replace("Cannot remove user. ", ""))
    return Response(status=204)


@bp.post("/admin/v2/orgs/<org_id>/users/invite")
def invite(org_id: str) -> Response:
    """Invites by e-mail (an existing account is answered as it is) and adds each person to
    `additionalGroups`; a group that cannot take them is reported per group, not as a failure."""
    error = _org_v2(org_id)
    body, bad = _body()
    if error or bad:
        return error or bad  # type: ignore[return-value]
    site = _site()
    if not site.org_paid:
        return _org_error(403, "Forbidden", PAID_ONLY)
    emails, groups = body.get("emails"), body.get("additionalGroups") or []
    if not isinstance(emails, list) or not emails or not all(
            isinstance(e, str) and "@" in e for e in emails):
        return _org_error(400, "Bad Request", "emails must be a non-empty list of e-mail addresses.")
    if len(emails) > INVITE_MAX:
        return _org_error(400, "Bad Request", f"Invite at most {INVITE_MAX} people at a time.")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        return _org_error(400, "Bad Request", "additionalGroups must be a list of group ids.")
    rules = body.get("permissionRules") or []
    if not isinstance(rules, list) or not all(
            isinstance(r, dict) and isinstance(r.get("resource"), str)
            and r.get("role") in INVITE_ROLES for r in rules):
        return _org_error(400, "Bad Request", "permissionRules must be a list of {resource, role} "
                          f"with role one of {', '.join(INVITE_ROLES)}.")
    if not isinstance(body.get("sendNotification", False), bool):
        return _org_error(400, "Bad Request", "sendNotification must be a boolean.")
    with site.lock:
        data = [_invite_one(email, groups) for email in emails]
    return jsonify({"data": data})


def _invite_one(email: str, group_ids: list[str]) -> dict[str, Any]:
    site = _site()
    user = site.user_by_email(email) or site.add_user(email)
    results = []
    for group_id in group_ids:
        try:
            group = site.group(group_id)
            if user.account_id not in group.members:
                site.add_member(group_id, user.account_id)
            results.append({"group": group_id, "status": "INVITED", "statusReason": None})
        except NotFound:
            results.append({"group": group_id, "status": "ERROR",
                            "statusReason": f"Group {group_id} not found"})
        except LicenceExceeded as exc:
            results.append({"group": group_id, "status": "ERROR",
                            "statusReason": f"{USER_LIMIT} ({exc})"})
        except Invalid as exc:
            results.append({"group": group_id, "status": "ERROR", "statusReason": str(exc)})
    return {"id": user.account_id, "email": user.email,
            "results": [{"roleAssignmentResult": [], "groupAssignmentResult": results}]}
