"""Incoming resource bodies → the stored document: canonical names, checked and coerced types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.scim.errors import invalid_value
from app.scim.resource_types import ResourceType
from app.scim.schemas import EXTERNAL_ID, Attribute, find
from app.scim.text import storable

# Attributes the server owns: a client may send them (Okta echoes `id`) but never sets them.
SERVER_OWNED = frozenset({"id", "meta", "schemas"})
MAX_STRING = 4096
_INDEXED_LENGTH = 255


def resolve(rtype: ResourceType, path: str) -> tuple[str | None, Attribute] | None:
    """Find a top-level attribute by lower-case path, possibly URN-qualified.

    Returns (extension URN or None for the core schema, attribute), or None when unknown.
    """
    container: str | None = None
    name = path
    if ":" in path:
        urn, _, name = path.rpartition(":")
        if urn == rtype.schema.lower():
            container = None
        elif (ext := rtype.extension(urn)) is not None:
            container = ext[0]
        else:
            return None
    if container is None:
        if name == "externalid":
            return None, EXTERNAL_ID
        found = find(rtype.attributes, name)
    else:
        found = find(rtype.extensions[container], name)
    return (container, found) if found else None


def coerce(attr: Attribute, value: Any, where: str) -> Any:
    """Check `value` against `attr`'s type; None means 'unassigned'."""
    if value is None:
        return None
    if attr.multi_valued:
        items = value if isinstance(value, list) else [value]
        out = [coerce_single(attr, item, where) for item in items]
        return _one_primary([item for item in out if item not in (None, {})])
    return coerce_single(attr, value, where)


def coerce_single(attr: Attribute, value: Any, where: str) -> Any:
    if value is None:
        return None
    if attr.type == "complex":
        if isinstance(value, str) and not attr.multi_valued and attr.sub("value") is not None:
            # Entra sends the enterprise `manager` as the manager's id, not as {"value": id}.
            value = {"value": value}
        if not isinstance(value, dict):
            raise invalid_value(f"{where} must be an object")
        return complex_value(attr, value, where)
    if attr.type == "boolean":
        return boolean(value, where)
    if attr.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_value(f"{where} must be an integer")
        return value
    if attr.type == "dateTime":
        return date_time(value, where)
    return string(value, where)


def complex_value(attr: Attribute, value: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        sub = attr.sub(key)
        if sub is None or sub.mutability == "readOnly":
            continue
        coerced = coerce(sub, item, f"{where}.{sub.name}")
        if coerced is not None:
            out[sub.name] = coerced
    return out


def boolean(value: Any, where: str) -> bool:
    """Booleans, and the strings "True"/"False" that Entra sends for `active`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_value(f"{where} must be a boolean, not {value!r}")


def string(value: Any, where: str) -> str:
    # Whole numbers are accepted as their text: IdPs map numeric directory fields (employee
    # numbers) to strings. Fractions are refused: their text is not what the IdP showed.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid_value(f"{where} must be a string")
    text = str(value)
    if len(text) > MAX_STRING:
        raise invalid_value(f"{where} is longer than {MAX_STRING} characters")
    if not storable(text):
        raise invalid_value(f"{where} must not contain NUL or unpaired surrogates")
    return text


def date_time(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise invalid_value(f"{where} must be an xsd:dateTime string")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_value(f"{where} is not a valid dateTime: {value!r}") from None
    return value


def _one_primary(items: list[Any]) -> list[Any]:
    """RFC 7643 §2.4: at most one item is primary; the first one marked wins."""
    seen = False
    for item in items:
        if isinstance(item, dict) and item.get("primary") is True:
            if seen:
                item["primary"] = False
            seen = True
    return items


def canonical(rtype: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
    """A whole resource (POST or PUT body) → the stored document; unknown attributes are ignored."""
    if not isinstance(body, dict):
        raise invalid_value("the resource must be a JSON object")
    doc: dict[str, Any] = {}
    for key, value in body.items():
        lowered = key.lower()
        if lowered in SERVER_OWNED:
            continue
        ext = rtype.extension(lowered)
        if ext is not None:
            if value is not None and not isinstance(value, dict):
                raise invalid_value(f"{ext[0]} must be an object")
            fields = _extension(ext, value or {})
            if fields:
                doc[ext[0]] = fields
            continue
        set_attribute(rtype, doc, lowered, value)
    return doc


def _extension(ext: tuple[str, tuple[Attribute, ...]], value: dict[str, Any]) -> dict[str, Any]:
    urn, attributes = ext
    out: dict[str, Any] = {}
    for key, item in value.items():
        attr = find(attributes, key)
        if attr is None or attr.mutability == "readOnly":
            continue
        coerced = coerce(attr, item, f"{urn}:{attr.name}")
        if coerced not in (None, [], {}):
            out[attr.name] = coerced
    return out


def set_attribute(rtype: ResourceType, doc: dict[str, Any], path: str, value: Any) -> None:
    """Set one top-level attribute named by a lower-case path; unknown ones are ignored."""
    found = resolve(rtype, path)
    if found is None or found[1].mutability == "readOnly":
        return
    container, attr = found
    coerced = coerce(attr, value, attr.name)
    target = doc.setdefault(container, {}) if container else doc
    if coerced in (None, [], {}):
        target.pop(attr.name, None)
    else:
        target[attr.name] = coerced
    if container and not target:
        doc.pop(container, None)


def check_required(rtype: ResourceType, doc: dict[str, Any]) -> None:
    """Required attributes present and non-empty; indexed ones short enough to index."""
    for attr in rtype.attributes:
        value = doc.get(attr.name)
        if attr.required and (value is None or (isinstance(value, str) and not value.strip())):
            raise invalid_value(f"{attr.name} is required")
    for name in ("userName", "displayName", "externalId"):
        value = doc.get(name)
        if isinstance(value, str) and len(value) > _INDEXED_LENGTH:
            raise invalid_value(f"{name} is longer than {_INDEXED_LENGTH} characters")
