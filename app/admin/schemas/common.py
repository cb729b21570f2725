"""Shapes shared by many routes: the error answer, paging, the small acknowledgements."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

PAGE_DEFAULT, PAGE_MAX = 50, 200


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


class CheckAnswer(Schema):
    ok = fields.Boolean(required=True)
    reason = fields.String(required=True)
    message = fields.String(required=True)
