"""Generic SCIM 2.0 source (pull): reads any RFC 7644 service provider with a token or OAuth."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workers.backoff import BackoffPolicy
from workers.sources.base import SourceNotFound
from workers.sources.http import (
    Auth,
    HttpClient,
    RefreshingClientCredentials,
    StaticAuth,
    workers_field,
)
from workers.sources.scim_api import SCIM_ACCEPT, ScimApiSource
from workers.sources.scim_paging import ScimReader
from workers.sources.settings import field_meta


class ScimPullSettingsSchema(Schema):
    """Where the SCIM service provider is and how we authenticate to it."""

    base_url = fields.String(required=True, validate=validate.URL(
        schemes={"https", "http"}, require_tld=False), metadata=field_meta(
        "SCIM base URL", "The URL under which /Users and /Groups live, e.g. "
        "https://idp.example.com/scim/v2."))
    auth = fields.String(load_default="bearer", validate=validate.OneOf(["bearer", "oauth"]),
                         metadata=field_meta("Authentication", "A static bearer token, or OAuth 2.0 "
                                        "client credentials."))
    token = fields.String(load_default="", metadata=field_meta(
        "Bearer token", "Sent as Authorization: Bearer <token>.", secret=True))
    token_url = fields.String(load_default="", metadata=field_meta(
        "Token URL", "OAuth token endpoint (client credentials)."))
    client_id = fields.String(load_default="", metadata=field_meta("Client id", "OAuth client id."))
    client_secret = fields.String(load_default="", metadata=field_meta(
        "Client secret", "OAuth client secret.", secret=True))
    client_auth = fields.String(load_default="basic", validate=validate.OneOf(["basic", "post"]),
                                metadata=field_meta("Client authentication", "HTTP Basic (usual) or "
                                               "client id and secret in the form."))
    scope = fields.String(load_default="", metadata=field_meta("Scope", "OAuth scope, if any."))
    page_size = fields.Integer(load_default=1000, validate=validate.Range(1, 5000), metadata=field_meta(
        "Page size", "Resources per page (servers may return fewer)."))
    workers = workers_field(4, "when the server leaves members out of group lists")

    @validates_schema
    def _auth_complete(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("auth") == "bearer" and not data.get("token"):
            raise ValidationError("a bearer token is required", "token")
        if data.get("auth") == "oauth":
            missing = [f for f in ("token_url", "client_id", "client_secret") if not data.get(f)]
            if missing:
                raise ValidationError({f: ["required for OAuth"] for f in missing})


class ScimPullSource(ScimApiSource):
    """Pulls users, groups and memberships from a SCIM 2.0 server; incremental when it filters."""

    kind = "scim_pull"
    label = "SCIM server"
    settings_schema = ScimPullSettingsSchema
    default_backoff = BackoffPolicy(initial=1.0, cap=30.0, max_retries=5)

    def make_client(self) -> HttpClient:
        config = self.settings
        auth: Auth
        if config.auth == "bearer":
            auth = StaticAuth(f"Bearer {config.token}")
        else:
            auth = RefreshingClientCredentials(config.token_url, config.client_id,
                                               client_secret=config.client_secret,
                                               scope=config.scope or None,
                                               secret_style=config.client_auth)
        return self.new_client(config.base_url, auth, headers={"Accept": SCIM_ACCEPT})

    def reader(self) -> ScimReader:
        size = self.settings.page_size
        return ScimReader(self.client, page_size=size, group_page_size=size)

    def filtering_supported(self) -> bool:
        """What /ServiceProviderConfig says about `filter` (absent endpoint: no)."""
        try:
            body = self.client.get_json("ServiceProviderConfig")
        except SourceNotFound:
            return False
        return isinstance(body, dict) and bool((body.get("filter") or {}).get("supported"))
