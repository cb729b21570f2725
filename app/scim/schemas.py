"""The attributes we store for each resource (RFC 7643 §4, §8.7): one definition drives validation and /Schemas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition, as RFC 7643 §7 describes it."""

    name: str
    type: str = "string"
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called `name`, matched case-insensitively."""
        key = name.lower()
        return next((a for a in self.sub_attributes if a.name.lower() == key), None)

    def to_scim(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "type": self.type, "multiValued": self.multi_valued,
            "description": self.name, "required": self.required, "caseExact": self.case_exact,
            "mutability": self.mutability, "returned": self.returned,
            "uniqueness": self.uniqueness}
        if self.sub_attributes:
            out["subAttributes"] = [a.to_scim() for a in self.sub_attributes]
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        return out


def _multi(name: str, types: tuple[str, ...]) -> Attribute:
    """An e-mail-like multi-valued attribute: value, display, type, primary."""
    return Attribute(name, "complex", multi_valued=True, sub_attributes=(
        Attribute("value"), Attribute("display"),
        Attribute("type", canonical_values=types), Attribute("primary", "boolean")))


NAME = Attribute("name", "complex", sub_attributes=(
    Attribute("formatted"), Attribute("familyName"), Attribute("givenName"),
    Attribute("middleName"), Attribute("honorificPrefix"), Attribute("honorificSuffix")))

USER_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("userName", required=True, uniqueness="server"),
    NAME,
    Attribute("displayName"),
    Attribute("nickName"),
    Attribute("title"),
    Attribute("userType"),
    Attribute("preferredLanguage"),
    Attribute("locale"),
    Attribute("timezone"),
    Attribute("active", "boolean"),
    _multi("emails", ("work", "home", "other")),
    _multi("phoneNumbers", ("work", "home", "mobile", "fax", "pager", "other")),
)

ENTERPRISE_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("employeeNumber"),
    Attribute("costCenter"),
    Attribute("organization"),
    Attribute("division"),
    Attribute("department"),
    Attribute("manager", "complex", sub_attributes=(
        Attribute("value"),
        Attribute("$ref", "reference", reference_types=("User",)),
        Attribute("displayName", mutability="readOnly"))),
)

MEMBERS = Attribute("members", "complex", multi_valued=True, sub_attributes=(
    Attribute("value", mutability="immutable"),
    Attribute("$ref", "reference", mutability="immutable", reference_types=("User", "Group")),
    Attribute("type", mutability="immutable", canonical_values=("User", "Group"))))

GROUP_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("displayName", required=True),
    MEMBERS,
)

# Common attributes (RFC 7643 §3.1) every resource carries beside its schema's own.
EXTERNAL_ID = Attribute("externalId", case_exact=True)

SCHEMAS: dict[str, tuple[str, tuple[Attribute, ...]]] = {
    USER: ("User", USER_ATTRIBUTES),
    ENTERPRISE: ("EnterpriseUser", ENTERPRISE_ATTRIBUTES),
    GROUP: ("Group", GROUP_ATTRIBUTES),
}


def find(attributes: tuple[Attribute, ...], name: str) -> Attribute | None:
    """The attribute called `name` among `attributes`, matched case-insensitively."""
    key = name.lower()
    return next((a for a in attributes if a.name.lower() == key), None)


def schema_resource(urn: str, base_url: str) -> dict[str, Any]:
    """One entry of /Schemas."""
    name, attributes = SCHEMAS[urn]
    return {"schemas": [SCHEMA_SCHEMA], "id": urn, "name": name,
            "description": f"{name} as stored by this service",
            "attributes": [a.to_scim() for a in attributes],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{urn}"}}
