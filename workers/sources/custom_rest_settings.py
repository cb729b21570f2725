"""Settings of the custom REST source: endpoints, auth, paging style and a JSON path per field."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workers.sources import json_path
from workers.sources.http import workers_field
from workers.sources.settings import field_meta

AUTH_MODES = ["none", "bearer", "basic", "api_key", "oauth"]
PAGING_STYLES = ["none", "offset", "page", "cursor", "link", "next_url"]



def _path_field(label: str, help_: str, default: str = "", required: bool = False
                ) -> fields.String:
    def check(value: str) -> None:
        try:
            json_path.validate(value)
        except json_path.JsonPathError as exc:
            raise ValidationError(str(exc)) from None

    if required:
        return fields.String(required=True, validate=[validate.Length(min=1), check],
                             metadata=field_meta(label, help_))
    return fields.String(load_default=default, validate=check, metadata=field_meta(label, help_))


def _text(label: str, help_: str, default: str = "", secret: bool = False) -> fields.String:
    return fields.String(load_default=default, metadata=field_meta(label, help_, secret))


class CustomRestSettingsSchema(Schema):
    """Describes any JSON API that lists users and groups, without code."""

    base_url = fields.String(required=True, validate=validate.URL(
        schemes={"https", "http"}, require_tld=False), metadata=field_meta(
        "Base URL", "Endpoint paths below are relative to it."))
    auth = fields.String(load_default="none", validate=validate.OneOf(AUTH_MODES),
                         metadata=field_meta("Authentication", " / ".join(AUTH_MODES)))
    token = _text("Bearer token", "For bearer authentication.", secret=True)
    username = _text("User name", "For basic authentication.")
    password = _text("Password", "For basic authentication.", secret=True)
    api_key_header = _text("API key header", "Header that carries the key.", "X-API-Key")
    api_key = _text("API key", "For API-key authentication.", secret=True)
    token_url = _text("Token URL", "OAuth client-credentials token endpoint.")
    client_id = _text("Client id", "OAuth client id.")
    client_secret = _text("Client secret", "OAuth client secret.", secret=True)
    scope = _text("Scope", "OAuth scope, if any.")
    client_auth = fields.String(load_default="basic", validate=validate.OneOf(["basic", "post"]),
                                metadata=field_meta("Client authentication", "HTTP Basic, or id and "
                                               "secret in the form."))

    users_path = fields.String(required=True, validate=validate.Length(min=1), metadata=field_meta(
        "Users endpoint", "e.g. /api/v1/users"))
    groups_path = _text("Groups endpoint", "e.g. /api/v1/groups (blank: no groups).")
    members = fields.String(load_default="embedded", validate=validate.OneOf(
        ["embedded", "endpoint"]), metadata=field_meta(
        "Group members", "Listed inside each group item, or read from a members endpoint."))
    members_path = _text("Members endpoint", "With {id} for the group id, e.g. "
                         "/api/v1/groups/{id}/members.")

    user_path = _text("One user endpoint", "With {id}, e.g. /api/v1/users/{id} (blank: no "
                      "one-user reads; webhooks then resync everything).")
    user_groups_path = _text("User's groups endpoint", "With {id}: the groups a user is directly "
                             "in, a list like the groups endpoint, e.g. /api/v1/users/{id}/groups.")
    group_path = _text("One group endpoint", "With {id}, e.g. /api/v1/groups/{id}.")
    item_path = _path_field("Item path", "Where the object is in a one-user or one-group answer "
                            "(blank: the answer is the object).")

    paging = fields.String(load_default="none", validate=validate.OneOf(PAGING_STYLES),
                           metadata=field_meta("Paging", " / ".join(PAGING_STYLES)))
    page_size = fields.Integer(load_default=100, validate=validate.Range(1, 10_000),
                               metadata=field_meta("Page size", "Items per request."))
    size_param = _text("Page size parameter", "Query parameter for the page size.", "limit")
    offset_param = _text("Offset parameter", "For offset paging.", "offset")
    page_param = _text("Page parameter", "For page-number paging.", "page")
    first_page = fields.Integer(load_default=1, validate=validate.Range(0, 1),
                                metadata=field_meta("First page number", "0 or 1."))
    cursor_param = _text("Cursor parameter", "For cursor paging.", "cursor")
    cursor_path = _path_field("Cursor path", "Where the next cursor is in the body.")
    next_url_path = _path_field("Next URL path", "Where the next page's URL is in the body.")
    total_path = _path_field("Total path", "Where the total item count is (optional).")

    items_path = _path_field("Items path", "Where the list is in each answer (blank: the "
                             "answer is the list).")
    members_items_path = _path_field("Member items path", "Where the list is in a members "
                                     "answer (blank: same as items path).")
    user_id_path = _path_field("User id", "Immutable user id.", required=True)
    user_email_path = _path_field("User e-mail", "e.g. emails[0].value", required=True)
    user_name_path = _path_field("User display name", "e.g. profile.name")
    user_active_path = _path_field("User active flag", "Blank: everyone is active.")
    user_active_inverted = fields.Boolean(load_default=False, metadata=field_meta(
        "Flag means disabled", "The flag says disabled (isDisabled, suspended) rather than "
        "active."))
    group_id_path = _path_field("Group id", "Immutable group id.", "id")
    group_name_path = _path_field("Group name", "e.g. name", "name")
    group_parent_path = _path_field("Group parent id", "Blank: no nesting.")
    group_members_path = _path_field("Members in group item", "For embedded members, "
                                     "e.g. members.")
    member_id_path = _path_field("Member user id", "Inside a member item (blank: the item is "
                                 "the id).")
    workers = workers_field(4, "members endpoint only")

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        needs = {"bearer": ["token"], "basic": ["username", "password"],
                 "api_key": ["api_key_header", "api_key"],
                 "oauth": ["token_url", "client_id", "client_secret"]}.get(data.get("auth"), [])
        needs += {"cursor": ["cursor_path"], "next_url": ["next_url_path"]}.get(
            data.get("paging"), [])
        if data.get("members") == "endpoint":
            needs.append("members_path")
        elif data.get("groups_path"):
            needs.append("group_members_path")
        missing = [name for name in needs if not data.get(name)]
        if missing:
            raise ValidationError({name: ["required with these choices"] for name in missing})
        if data.get("members") == "endpoint" and "{id}" not in data.get("members_path", ""):
            raise ValidationError("must contain {id}", "members_path")
        for name in ("user_path", "user_groups_path", "group_path"):
            if data.get(name) and "{id}" not in data[name]:
                raise ValidationError("must contain {id}", name)
