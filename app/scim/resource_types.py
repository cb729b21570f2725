"""The two resource types we serve, and the discovery documents that describe them truthfully."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.scim import schemas
from app.scim.schemas import Attribute

MAX_RESULTS = 500


@dataclass(frozen=True)
class ResourceType:
    """A resource type: its endpoint, core schema and extensions (URN → attributes)."""

    name: str
    endpoint: str
    schema: str
    attributes: tuple[Attribute, ...]
    extensions: dict[str, tuple[Attribute, ...]] = field(default_factory=dict)

    def extension(self, urn: str) -> tuple[str, tuple[Attribute, ...]] | None:
        """The extension whose URN is `urn` (case-insensitive), with its canonical URN."""
        key = urn.lower()
        return next(((u, a) for u, a in self.extensions.items() if u.lower() == key), None)

    def to_scim(self, base_url: str) -> dict[str, Any]:
        return {
            "schemas": [schemas.RESOURCE_TYPE_SCHEMA], "id": self.name, "name": self.name,
            "endpoint": f"/{self.endpoint}", "description": f"{self.name}s pushed by the IdP",
            "schema": self.schema,
            "schemaExtensions": [{"schema": urn, "required": False} for urn in self.extensions],
            "meta": {"resourceType": "ResourceType",
                     "location": f"{base_url}/ResourceTypes/{self.name}"}}


USER = ResourceType("User", "Users", schemas.USER, schemas.USER_ATTRIBUTES,
                    {schemas.ENTERPRISE: schemas.ENTERPRISE_ATTRIBUTES})
GROUP = ResourceType("Group", "Groups", schemas.GROUP, schemas.GROUP_ATTRIBUTES)
TYPES = {"User": USER, "Group": GROUP}


def service_provider_config(base_url: str) -> dict[str, Any]:
    """What we implement, and nothing we do not (bulk and password changes are off)."""
    return {
        "schemas": [schemas.SPC_SCHEMA],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "Bearer token", "primary": True,
            "description": "The token shown once when the SCIM endpoint's token was created."}],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{base_url}/ServiceProviderConfig"},
    }
