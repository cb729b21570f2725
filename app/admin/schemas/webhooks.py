"""A connection's webhook: where its IdP posts changes, the secret, and how to set it up."""

from __future__ import annotations

from marshmallow import Schema, fields


class Webhook(Schema):
    connection_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    format = fields.String(required=True, metadata={
        "description": "okta-event-hook, graph-change-notifications, google-push, "
                       "keycloak-events or standard-webhooks, standard-webhooks"})
    url = fields.String(required=True)
    secret = fields.String(required=True, metadata={
        "description": "whsec_… (Standard Webhooks key, Okta header value, Graph clientState, "
                       "Google channel token)"})
    setup = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(allow_none=True)
    rotated_at = fields.DateTime(allow_none=True)
