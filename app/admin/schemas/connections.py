"""Kinds and their generated forms; connections as created, changed and answered."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.admin.schemas.common import ConnectionBrief, items_of
from app.admin.schemas.runs import RunSummary

NAME = validate.Length(min=1, max=128)


class FormField(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={
        "description": "string, url, email, integer, number, boolean, list, object"})
    required = fields.Boolean(required=True)
    secret = fields.Boolean(required=True)
    label = fields.String(required=True)
    description = fields.String(allow_none=True)
    choices = fields.List(fields.Raw(), allow_none=True)
    default = fields.Raw(allow_none=True)


class Kind(Schema):
    kind = fields.String(required=True)
    title = fields.String(required=True)
    supports_incremental = fields.Boolean(required=True)
    pushes = fields.Boolean(required=True, metadata={"description": "the IdP pushes over SCIM "
                                                     "(tokens and base URL instead of settings)"})
    fields_ = fields.List(fields.Nested(FormField), data_key="fields", attribute="fields",
                          required=True)


class KindList(Schema):
    items = items_of(Kind)


class ScimInfo(Schema):
    base_url = fields.String(required=True)


class Connection(ConnectionBrief):
    settings = fields.Dict(keys=fields.String(), required=True,
                           metadata={"description": "secret settings answer \"set\" or \"not set\""})
    mapping_mode = fields.String(required=True)
    schedule = fields.String(allow_none=True, required=True)
    next_run_at = fields.DateTime(allow_none=True)
    last_run_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(allow_none=True)
    scim = fields.Nested(ScimInfo, allow_none=True)
    last_run = fields.Nested(RunSummary, allow_none=True)


class ConnectionList(Schema):
    items = items_of(Connection)


class ConnectionCreate(Schema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=NAME)
    settings = fields.Dict(keys=fields.String(), load_default=dict)
    enabled = fields.Boolean(load_default=False)
    schedule = fields.String(allow_none=True, validate=validate.Length(max=64))


class ConnectionPatch(Schema):
    name = fields.String(validate=NAME)
    settings = fields.Dict(keys=fields.String())


class DraftTest(Schema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32))
    settings = fields.Dict(keys=fields.String(), load_default=dict)


class DeleteQuery(Schema):
    purge = fields.Boolean(load_default=False)
