"""A connection's webhook: where its IdP posts changes, the secret, and how to set it up."""

from __future__ import annotations

from marshmallow import Schema, fields


class Subscription(Schema):
    resource = fields.String(required=True, metadata={
        "description": "users, groups (Graph); add, delete, update, undelete, admin-activity "
                       "(Google channels)"})
    provider = fields.String(required=True, metadata={"description": "graph or google"})
    external_id = fields.String(required=True, metadata={
        "description": "the Graph subscription id or the Google channel id"})
    expires_at = fields.DateTime(required=True)
    renewed_at = fields.DateTime(allow_none=True)


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
    subscriptions = fields.List(fields.Nested(Subscription), allow_none=True, metadata={
        "description": "Entra and Google: the push subscriptions held at the IdP, renewed before "
                       "they expire (`usersync webhooks subscribe` makes them); null for the "
                       "other kinds, which the IdP is told about by hand"})
