"""The overview page's one answer: every connection's health and the credential."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.admin.schemas.credential import CredentialSummary
from app.admin.schemas.runs import ConnectionHealth


class Overview(Schema):
    connections = fields.List(fields.Nested(ConnectionHealth), required=True)
    credential = fields.Nested(CredentialSummary, required=True)
