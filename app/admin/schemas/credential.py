"""The Atlassian write credential: which is active, how to hand one over, and the check."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.admin.schemas.common import Named, Verdict, items_of

API_TOKEN_CAUTION = (
    "Legacy choice. Atlassian: \"Apps that collect API tokens or instruct customers to create "
    "individual 3LO apps don't comply with our Security requirements for cloud apps and "
    "Acceptable use policy.\" Prefer connecting a site-admin account with OAuth 2.0; API tokens "
    "also expire and act with every permission of their account.")
"""Shown beside the API-token choice (https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/)."""

# Atlassian's tokens and keys are printable ASCII; anything else could not even be sent in a header.
SECRET = [validate.Length(min=8, max=4096),
          validate.Regexp(r"^[\x21-\x7e]+$", error="Paste the token exactly as Atlassian shows it.")]
ASCII = validate.Regexp(r"^[\x20-\x7e]+$", error="Only plain ASCII characters are accepted here.")


class CredentialItem(Schema):
    kind = fields.String(required=True, metadata={"description": "oauth, api_token, org_api_key"})
    status = fields.String(required=True, metadata={"description": "active or revoked"})
    last_error = fields.String(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)
    email = fields.String(allow_none=True)
    org_id = fields.String(allow_none=True)
    scoped = fields.Boolean(allow_none=True, metadata={
        "description": "API token only: created with scopes, so sent through api.atlassian.com"})


class CredentialSummary(Schema):
    active = fields.String(allow_none=True, required=True,
                           metadata={"description": "the write credential syncs use: oauth, "
                                     "api_token or null"})
    org_api_key = fields.String(required=True, metadata={"description": "set or not set"})
    items = items_of(CredentialItem)
    oauth_available = fields.Boolean(required=True)
    api_token_caution = fields.String(required=True)


class OAuthStart(Schema):
    authorize_url = fields.String(required=True)


class OrgKey(Schema):
    org_id = fields.String(required=True, validate=[validate.Length(min=1, max=128), ASCII])
    api_key = fields.String(required=True, validate=SECRET, load_only=True)
    # True: groups, members and invites always go through the organization API; False: never;
    # absent: only when no product write credential (OAuth, API token) is connected
    writes = fields.Boolean(load_default=None, allow_none=True)


class ApiToken(Schema):
    email = fields.Email(required=True, validate=[validate.Length(max=320), ASCII])
    api_token = fields.String(required=True, validate=SECRET, load_only=True)
    # Atlassian accepts a token created "with scopes" only through api.atlassian.com/ex/...;
    # left false, a scoped token is recognised from the site's refusal on first use
    scoped = fields.Boolean(load_default=False)


class OrgKeyCheck(Verdict):
    """The organization API key's own check."""


class CredentialCheck(Verdict):
    kind = fields.String(allow_none=True)
    org_key = fields.Nested(OrgKeyCheck, allow_none=True,
                            metadata={"description": "the organization API key's own check; "
                                      "null when none is stored"})


class Me(Schema):
    account_id = fields.String(required=True)
    product = fields.String(required=True)
    site_url = fields.String(required=True)
    client_key = fields.String(required=True)
    installation_state = fields.String(required=True)
    via = fields.String(required=True)
    credential = fields.Nested(CredentialSummary, required=True)
    scim_base_url = fields.String(required=True)


class TokenIdentity(Schema):
    """What tells a SCIM token apart without showing it: its id, first characters and age."""

    id = fields.Integer(required=True)
    hint = fields.String(required=True)
    created_at = fields.DateTime(allow_none=True)


class ScimToken(TokenIdentity):
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ScimTokenList(Schema):
    base_url = fields.String(required=True)
    items = items_of(ScimToken)


class NewScimToken(TokenIdentity):
    token = fields.String(required=True, metadata={"description": "shown this once, never again"})
    base_url = fields.String(required=True)


class SiteGroup(Named):
    """A group on the Atlassian site."""


class SiteGroupList(Schema):
    items = items_of(SiteGroup)


class IdpGroup(Named):
    members = fields.Integer(required=True)


class IdpGroupList(Schema):
    items = items_of(IdpGroup)
    complete = fields.Boolean(required=True)
