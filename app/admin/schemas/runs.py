"""Runs, their live progress, stored plans, recorded changes and the overview."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.admin.schemas.common import ConnectionBrief, Page, PageQuery, items_of
from workers.sync.plan import APPLY_ORDER
from workers.vocabulary import Outcome, RunStatus

CHANGE_KINDS = APPLY_ORDER
OUTCOMES = tuple(Outcome)


class SyncRequest(Schema):
    """Options of "Sync now"; the body may be left out."""

    optional_body = True
    reconcile = fields.Boolean(load_default=False, metadata={
        "description": "Read every managed group from the site first (the drift reconcile) "
                       "instead of trusting the mirror of what this app wrote."})


class RunSummary(Schema):
    id = fields.Integer(required=True)
    connection_id = fields.Integer(required=True)
    trigger = fields.String(required=True)
    dry_run = fields.Boolean(required=True)
    status = fields.String(required=True, metadata={
        "description": ", ".join(RunStatus) + " (deferred: stopped by Atlassian's hourly quota; "
                       "resumes by itself)"})
    reason = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    held = fields.Boolean(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    ops_total = fields.Integer(required=True)
    ops_done = fields.Integer(required=True)
    approved_by = fields.String(allow_none=True)


class Progress(Schema):
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)


class Run(RunSummary):
    counts = fields.Dict(keys=fields.String(), required=True)
    summary = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    progress = fields.Nested(Progress, allow_none=True)


class RunPage(Page):
    items = items_of(RunSummary)


class Notice(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class OpFields(Schema):
    """What a planned and a recorded change both name: the kind, the group, the person."""

    kind = fields.String(required=True)
    group_id = fields.String(allow_none=True)
    group_name = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)
    idp_user_id = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class PlannedChange(OpFields):
    index = fields.Integer(required=True)
    display_name = fields.String(allow_none=True)
    products = fields.List(fields.String())
    reason = fields.String(allow_none=True)


class PlanQuery(PageQuery):
    kind = fields.String(validate=validate.OneOf(CHANGE_KINDS))


class PlanAnswer(Page):
    run_id = fields.Integer(required=True)
    status = fields.String(required=True)
    held = fields.Boolean(required=True)
    reason = fields.String(allow_none=True)
    summary = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    notices = fields.List(fields.Nested(Notice), required=True)
    items = items_of(PlannedChange)


class ExportQuery(Schema):
    kind = fields.String(validate=validate.OneOf(CHANGE_KINDS))
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))


class ChangeQuery(PageQuery, ExportQuery):
    """A page of the recorded changes, filtered as an export is."""


class Change(OpFields):
    id = fields.Integer(required=True)
    seq = fields.Integer(required=True)
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)
    outcome = fields.String(required=True)
    message = fields.String(allow_none=True)
    at = fields.DateTime(allow_none=True)


class ChangePage(Page):
    items = items_of(Change)


class Counts(Schema):
    applied = fields.Integer(required=True)
    failed = fields.Integer(required=True)


class HistoryPoint(Counts):
    """One past run's outcome, for the overview's history strip."""

    run_id = fields.Integer(required=True)
    started_at = fields.DateTime(allow_none=True)
    status = fields.String(required=True)


class ConnectionHealth(ConnectionBrief):
    health = fields.String(required=True, metadata={
        "description": "ok, failing, held, deferred, never_run, disabled, running"})
    last_run = fields.Nested(RunSummary, allow_none=True)
    next_run_at = fields.DateTime(allow_none=True)
    deferred_until = fields.DateTime(allow_none=True, metadata={
        "description": "when a run stopped by Atlassian's quota continues"})
    counts = fields.Nested(Counts, required=True)
    history = fields.List(fields.Nested(HistoryPoint), required=True)
