"""Settings of the LDAP / Active Directory source: the form schema and the two directory presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ldap3.core.exceptions import LDAPInvalidFilterError
from ldap3.operation.search import parse_filter
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workers.sources.settings import field_meta

# What a blank field means for each preset: the usual schema of that server family.
PRESETS: dict[str, dict[str, Any]] = {
    "active_directory": {
        "user_filter": "(&(objectCategory=person)(objectClass=user))",
        "group_filter": "(objectClass=group)",
        "disabled_filter": "(userAccountControl:1.2.840.113556.1.4.803:=2)",
        "id_attribute": "objectGUID",
        "email_attribute": "mail",
        "display_name_attribute": "displayName",
        "group_name_attribute": "cn",
        "member_attribute": "member",
        "primary_group_attribute": "primaryGroupID",
        "member_range_size": 1500,
    },
    "openldap": {
        "user_filter": "(objectClass=inetOrgPerson)",
        "group_filter": "(objectClass=groupOfNames)",
        "disabled_filter": "(pwdAccountLockedTime=*)",
        "id_attribute": "entryUUID",
        "email_attribute": "mail",
        "display_name_attribute": "displayName",
        "group_name_attribute": "cn",
        "member_attribute": "member",
        "primary_group_attribute": "",
        "member_range_size": 0,
    },
}


def _valid_filter(value: str) -> None:
    if not value:
        return
    try:
        parse_filter(value, None, True, True, None, False)
    except LDAPInvalidFilterError:
        raise ValidationError(f"{value!r} is not a valid LDAP filter") from None


def _blank(help_: str, label: str) -> fields.String:
    return fields.String(load_default="", validate=_valid_filter if "filter" in label.lower()
                         else None, metadata=field_meta(label, help_ + " Blank: the preset's."))


class LdapSettingsSchema(Schema):
    """What the admin fills in to connect an LDAP server or Active Directory."""

    preset = fields.String(load_default="openldap",
                           validate=validate.OneOf(["active_directory", "openldap"]),
                           metadata=field_meta("Directory type", "Fills every blank field below."))
    url = fields.String(required=True, metadata=field_meta(
        "Server URL", "ldaps://dc.example.com:636, or ldap://…:389 with StartTLS."))
    start_tls = fields.Boolean(load_default=False, metadata=field_meta(
        "StartTLS", "Upgrade an ldap:// connection to TLS before binding."))
    verify_tls = fields.Boolean(load_default=True, metadata=field_meta(
        "Verify the server certificate", "Turn off only for a test server."))
    ca_cert = fields.String(load_default="", metadata=field_meta(
        "CA certificate (PEM)", "Trust this CA as well, e.g. for an internal AD CA."))
    bind_dn = fields.String(required=True, validate=validate.Length(min=1), metadata=field_meta(
        "Bind DN", "The read-only service account, e.g. CN=sync,OU=Service,DC=corp,DC=com."))
    bind_password = fields.String(required=True, validate=validate.Length(min=1),
                                  metadata=field_meta("Bind password", "", secret=True))
    base_dn = fields.String(required=True, validate=validate.Length(min=1),
                            metadata=field_meta("Base DN", "Where users and groups are searched."))
    user_base_dn = fields.String(load_default="", metadata=field_meta(
        "User base DN", "Blank: the base DN."))
    group_base_dn = fields.String(load_default="", metadata=field_meta(
        "Group base DN", "Blank: the base DN."))
    user_filter = _blank("Which entries are users.", "User filter")
    group_filter = _blank("Which entries are groups.", "Group filter")
    disabled_filter = _blank("Users matching it are synced as inactive.", "Disabled filter")
    id_attribute = _blank("The immutable id (objectGUID, entryUUID).", "Id attribute")
    email_attribute = _blank("Holds the e-mail address.", "E-mail attribute")
    display_name_attribute = _blank("Holds the full name.", "Display name attribute")
    group_name_attribute = _blank("Holds the group name.", "Group name attribute")
    member_attribute = _blank("Lists members of a group as DNs.", "Member attribute")
    primary_group_attribute = _blank(
        "AD's primaryGroupID: users whose primary group (e.g. Domain Users) a group is, though "
        "its member list leaves them out; \"none\" to ignore.", "Primary group attribute")
    member_range_size = fields.Integer(load_default=None, allow_none=True,
                                       validate=validate.Range(0, 100000), metadata=field_meta(
        "Member range size", "Members read per ranged read of a group (AD's MaxValRange is "
        "1500); 0 reads them in one go (OpenLDAP). Blank: the preset's."))
    page_size = fields.Integer(load_default=500, validate=validate.Range(1, 5000),
                               metadata=field_meta("Page size", "Entries per paged-search page "
                                                   "(AD's MaxPageSize is usually 1000)."))
    timeout = fields.Float(load_default=10.0, validate=validate.Range(0.1, 300),
                           metadata=field_meta("Timeout (s)", "Connect and response timeout."))

    @validates_schema
    def _check_url(self, data: dict[str, Any], **_: Any) -> None:
        parts = urlsplit(data.get("url", ""))
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValidationError("use ldaps://host[:port] or ldap://host[:port]", "url")
        if parts.scheme == "ldaps" and data.get("start_tls"):
            raise ValidationError("StartTLS is for ldap:// URLs; ldaps:// is already TLS",
                                  "start_tls")


@dataclass(frozen=True, slots=True)
class LdapConfig:
    """The settings with the preset applied: every field has its final value."""

    url: str
    start_tls: bool
    verify_tls: bool
    ca_cert: str
    bind_dn: str
    bind_password: str
    user_base_dn: str
    group_base_dn: str
    user_filter: str
    group_filter: str
    disabled_filter: str
    id_attribute: str
    email_attribute: str
    display_name_attribute: str
    group_name_attribute: str
    member_attribute: str
    primary_group_attribute: str
    member_range_size: int
    page_size: int
    timeout: float


def resolve(settings: Mapping[str, Any]) -> LdapConfig:
    """Fill the blanks of loaded settings from the preset (raw settings are validated first;
    ValidationError on bad input)."""
    from workers.sources.settings import Settings

    data = dict(settings) if isinstance(settings, Settings) else LdapSettingsSchema().load(settings)
    preset = PRESETS[data.pop("preset")]
    for name, default in preset.items():
        value = data.get(name)
        data[name] = default if value is None or value == "" else value
    if data["primary_group_attribute"].lower() == "none":
        data["primary_group_attribute"] = ""
    base = data.pop("base_dn")
    data["user_base_dn"] = data["user_base_dn"] or base
    data["group_base_dn"] = data["group_base_dn"] or base
    return LdapConfig(**data)
