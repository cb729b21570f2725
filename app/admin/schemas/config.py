"""A connection's mapping, schedule and policy as the admin edits them."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from workers.sync.policy import (
    DEPROVISION_MODES,
    INVITE_PRODUCTS,
    MAPPING_MODES,
    NAME_CASES,
    UNMATCHED_MODES,
    is_domain,
    pattern_error,
)

GROUP = [validate.Length(min=1, max=255), validate.Regexp(r"[\s\S]*\S", error="Must not be blank.")]


def _patterns_ok(values: list[str]) -> None:
    for pattern in values:
        error = pattern_error(pattern)
        if error:
            raise ValidationError(error)


def _names(*, limit: int = 1000, least: int = 0, **kwargs) -> fields.List:  # type: ignore[no-untyped-def]
    return fields.List(fields.String(validate=GROUP),
                       validate=validate.Length(min=least, max=limit), **kwargs)


class Transform(Schema):
    prefix = fields.String(load_default="", validate=validate.Length(max=64))
    case = fields.String(load_default="keep", validate=validate.OneOf(NAME_CASES))


class Rule(Schema):
    idp_group = fields.String(required=True, validate=GROUP)
    groups = _names(required=True, least=1, limit=100)


class Filters(Schema):
    include = _names(load_default=list)
    exclude = _names(load_default=list)
    active_only = fields.Boolean(load_default=True)
    members_only = fields.Boolean(load_default=True)
    email_domains = _names(load_default=list)

    @validates("include")
    def _include(self, value: list[str], **_: object) -> None:
        _patterns_ok(value)

    @validates("exclude")
    def _exclude(self, value: list[str], **_: object) -> None:
        _patterns_ok(value)


class Mapping(Schema):
    mode = fields.String(load_default="on_the_fly", validate=validate.OneOf(MAPPING_MODES))
    transform = fields.Nested(Transform, load_default=lambda: Transform().load({}))
    flatten_nested = fields.Boolean(load_default=True)
    rules = fields.List(fields.Nested(Rule), load_default=list, validate=validate.Length(max=1000))
    filters = fields.Nested(Filters, load_default=lambda: Filters().load({}))
    default_groups = _names(load_default=list)


class Schedule(Schema):
    schedule = fields.String(required=True, allow_none=True, validate=validate.Length(max=64),
                             metadata={"description": "five_minutes, hour, day, week, a five-field "
                                       "cron expression, or null for manual only"})
    next_run_at = fields.DateTime(dump_only=True, allow_none=True)


class Guard(Schema):
    max_removal_percent = fields.Float(load_default=10.0, validate=validate.Range(min=0, max=100))
    max_users_affected = fields.Integer(load_default=50, validate=validate.Range(min=0, max=10_000_000))
    empty_hold_min_previous = fields.Integer(load_default=10,
                                             validate=validate.Range(min=1, max=10_000_000))


class Policy(Schema):
    @validates("invite_domains")
    def _domains(self, value: list[str] | None, **_: object) -> None:
        bad = [d for d in value or [] if not is_domain(d.strip().lower().lstrip("@"))]
        if bad:
            raise ValidationError(f"not an e-mail domain: {', '.join(bad[:5])}")

    deprovision = fields.String(load_default="remove_from_groups",
                                validate=validate.OneOf(DEPROVISION_MODES))
    on_unmatched = fields.String(load_default="invite", validate=validate.OneOf(UNMATCHED_MODES))
    invite_products = fields.List(fields.String(validate=validate.OneOf(INVITE_PRODUCTS)),
                                  load_default=list, validate=validate.Length(max=10))
    invite_domains = fields.List(fields.String(validate=validate.Length(min=1, max=255)),
                                 load_default=None, allow_none=True,
                                 validate=validate.Length(max=1000), metadata={
                                     "description": "e-mail domains that may be invited; null: "
                                     "filled from the IdP's users at the first complete read; "
                                     "[]: invite nobody"})
    adopt_existing_groups = fields.Boolean(load_default=False, metadata={
        "description": "let on-the-fly IdP groups take over same-named groups already on the site"})
    product_access_groups = _names(load_default=list)
    guard = fields.Nested(Guard, load_default=lambda: Guard().load({}))
    protected_account_ids = fields.List(fields.String(validate=validate.Length(min=1, max=128)),
                                        load_default=list, validate=validate.Length(max=10_000))
