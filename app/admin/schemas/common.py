"""Shapes shared by many routes: the error answer, paging, the small acknowledgements."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

PAGE_DEFAULT, PAGE_MAX = 50, 200


def items_of(schema: type[Schema]) -> fields.List:
    """The `items` of a list answer, each shaped by `schema`."""
    return fields.List(fields.Nested(schema), required=True)


class Page(Schema):
    """A page of a keyset-paged list; `next_cursor` asks for the next one (null: the last)."""

    next_cursor = fields.String(allow_none=True)


class Named(Schema):
    """Something the admin picks by name, identified by its id."""

    id = fields.String(required=True)
    name = fields.String(required=True)


class Verdict(Schema):
    """The answer of a check: whether it passed, and the sentence to show."""

    ok = fields.Boolean(required=True)
    message = fields.String(required=True)


class ConnectionBrief(Schema):
    """What names a connection wherever one is listed."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    enabled = fields.Boolean(required=True)


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"description": "validation, unauthorized, "
                                                  "forbidden, not_found, conflict, …"})
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields", keys=fields.String(),
                          values=fields.List(fields.String()),
                          metadata={"description": "dotted field path → messages (validation only)"})


class ErrorAnswer(Schema):
    error = fields.Nested(ErrorDetail, required=True)


class PageQuery(Schema):
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=PAGE_DEFAULT, validate=validate.Range(min=1, max=PAGE_MAX))


class NameQuery(Schema):
    query = fields.String(load_default="", validate=validate.Length(max=200))


class JobAnswer(Schema):
    job_id = fields.String(required=True)
    run_id = fields.Integer(allow_none=True)


class JobState(Schema):
    job_id = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "queued, started, finished, "
                                                   "failed, stopped, canceled, deferred, unknown"})
    run_id = fields.Integer(allow_none=True)


class CheckAnswer(Verdict):
    reason = fields.String(required=True)
