"""PATCH (RFC 7644 §3.5.2) on a stored document, tolerant of the shapes Entra and Okta really send."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from app.scim import documents
from app.scim.errors import invalid_path, invalid_syntax, invalid_value, no_target
from app.scim.filters import PatchPath, parse_path
from app.scim.resource_types import ResourceType
from app.scim.schemas import PATCH_OP, Attribute
from app.scim.selectors import matches, simple_equality

OPS = ("add", "replace", "remove")
MAX_OPERATIONS = 1000


@dataclass(frozen=True)
class Operation:
    """One PatchOp operation: `op` lower-cased (Entra capitalises), `path` parsed or None."""

    op: str
    path: PatchPath | None
    value: Any


def parse_operations(body: Any) -> list[Operation]:
    """Validate a PatchOp message and parse each operation's path."""
    if not isinstance(body, dict):
        raise invalid_syntax("a PATCH body must be a PatchOp object")
    schemas = body.get("schemas") or body.get("Schemas")
    if schemas is not None and (not isinstance(schemas, list) or PATCH_OP not in schemas):
        raise invalid_syntax(f"a PATCH body must declare the schema {PATCH_OP}")
    raw = body.get("Operations", body.get("operations"))
    if not isinstance(raw, list) or not raw:
        raise invalid_syntax("a PATCH body needs a non-empty 'Operations' list")
    if len(raw) > MAX_OPERATIONS:
        raise invalid_value(f"at most {MAX_OPERATIONS} operations per PATCH")
    return [_operation(item) for item in raw]


def _operation(item: Any) -> Operation:
    if not isinstance(item, dict):
        raise invalid_syntax("each operation must be an object")
    fields = {k.lower(): v for k, v in item.items()}
    op = str(fields.get("op", "")).lower()
    if op not in OPS:
        raise invalid_syntax(f"op must be add, replace or remove, not {fields.get('op')!r}")
    path = fields.get("path")
    if path is not None and not isinstance(path, str):
        raise invalid_path("path must be a string")
    parsed = parse_path(path) if path else None
    if parsed is None and op == "remove":
        raise no_target("a remove operation needs a path")
    if op != "remove" and "value" not in fields:
        raise invalid_value(f"an {op} operation needs a value")
    return Operation(op, parsed, fields.get("value"))


def apply(rtype: ResourceType, doc: dict[str, Any], operations: list[Operation]) -> dict[str, Any]:
    """A new document with every operation applied in order (the input is left untouched)."""
    doc = copy.deepcopy(doc)
    for operation in operations:
        if operation.path is None:
            _apply_pathless(rtype, doc, operation)
        else:
            apply_at(rtype, doc, operation.op, operation.path, operation.value)
    return doc


def _apply_pathless(rtype: ResourceType, doc: dict[str, Any], operation: Operation) -> None:
    """A value object whose keys are paths: plain names, `name.givenName` or URN-qualified."""
    if not isinstance(operation.value, dict):
        raise invalid_value(f"an {operation.op} without a path needs an object value")
    for key, value in operation.value.items():
        if key.lower() in documents.SERVER_OWNED:
            continue
        apply_at(rtype, doc, operation.op, parse_path(key), value)


def apply_at(rtype: ResourceType, doc: dict[str, Any], op: str, path: PatchPath, value: Any) -> None:
    """Apply one operation at a parsed path; unknown and read-only attributes are ignored."""
    ext = rtype.extension(path.attr) if path.selector is None and path.sub is None else None
    if ext is not None:
        _extension(rtype, doc, op, ext[0], value)
        return
    found = documents.resolve(rtype, path.attr)
    if found is None or found[1].mutability == "readOnly":
        return
    container, attr = found
    target = doc.setdefault(container, {}) if container else doc
    if attr.multi_valued:
        _multi(attr, target, op, path, value)
    elif path.selector is not None:
        raise invalid_path(f"{attr.name} is single-valued and takes no filter")
    elif attr.type == "complex":
        _complex(attr, target, op, path.sub, value)
    elif path.sub is not None:
        raise invalid_path(f"{attr.name} has no sub-attributes")
    elif op == "remove":
        target.pop(attr.name, None)
    else:
        _store(target, attr.name, documents.coerce(attr, value, attr.name))
    if container and not target:
        doc.pop(container, None)


def _extension(rtype: ResourceType, doc: dict[str, Any], op: str, urn: str, value: Any) -> None:
    """The path names a whole extension: remove it, or set each attribute of the object given."""
    if op == "remove":
        doc.pop(urn, None)
        return
    if not isinstance(value, dict):
        raise invalid_value(f"{urn} must be an object")
    for key, item in value.items():
        if key.lower() not in documents.SERVER_OWNED:
            apply_at(rtype, doc, op, parse_path(f"{urn}:{key}"), item)


def _store(target: dict[str, Any], name: str, value: Any) -> None:
    if value in (None, [], {}):
        target.pop(name, None)
    else:
        target[name] = value


def _sub_attribute(attr: Attribute, name: str) -> Attribute:
    sub = attr.sub(name)
    if sub is None:
        raise invalid_path(f"{attr.name} has no sub-attribute {name!r}")
    return sub


def _complex(attr: Attribute, target: dict[str, Any], op: str, sub: str | None, value: Any) -> None:
    current = dict(target.get(attr.name) or {})
    if sub is None:
        if op == "remove":
            current = {}
        else:
            # RFC 7644 §3.5.2.3: sub-attributes not given are left as they were.
            current.update(documents.coerce(attr, value, attr.name) or {})
    else:
        definition = _sub_attribute(attr, sub)
        if definition.mutability == "readOnly":
            return
        if op == "remove":
            current.pop(definition.name, None)
        else:
            _store(current, definition.name,
                   documents.coerce(definition, value, f"{attr.name}.{definition.name}"))
    _store(target, attr.name, current)


def _multi(attr: Attribute, target: dict[str, Any], op: str, path: PatchPath, value: Any) -> None:
    items: list[Any] = list(target.get(attr.name) or [])
    if path.selector is None and path.sub is None:
        items = _whole_list(attr, items, op, value)
    else:
        items = _selected_items(attr, items, op, path, value)
    _store(target, attr.name, documents.coerce(attr, items, attr.name) if items else None)


def _whole_list(attr: Attribute, items: list[Any], op: str, value: Any) -> list[Any]:
    if op == "replace":
        return documents.coerce(attr, value, attr.name) or []
    if op == "add":
        new = documents.coerce(attr, value, attr.name) or []
        return items + [item for item in new if item not in items]
    if value is None:
        return []
    # Entra's older shape: remove with a list of {"value": ...} naming the items to drop.
    doomed = {str(v.get("value")).lower() for v in (value if isinstance(value, list) else [value])
              if isinstance(v, dict)}
    return [item for item in items if str(item.get("value", "")).lower() not in doomed]


def _selected_items(attr: Attribute, items: list[Any], op: str, path: PatchPath,
                    value: Any) -> list[Any]:
    chosen = [i for i, item in enumerate(items)
              if path.selector is None or matches(path.selector, item)]
    if op == "remove":
        if path.sub is None:
            return [item for i, item in enumerate(items) if i not in chosen]
        sub = _sub_attribute(attr, path.sub).name
        return [({k: v for k, v in item.items() if k != sub} if i in chosen else item)
                for i, item in enumerate(items)]
    if not chosen:
        return items + [_new_item(attr, path, value)]
    for i in chosen:
        items[i] = _updated_item(attr, items[i], op, path.sub, value)
    return items


def _updated_item(attr: Attribute, item: dict[str, Any], op: str, sub: str | None,
                  value: Any) -> dict[str, Any]:
    if sub is None:
        new = documents.coerce_single(attr, value, attr.name)
        return {**item, **new} if op == "add" else new
    definition = _sub_attribute(attr, sub)
    updated = dict(item)
    _store(updated, definition.name, documents.coerce(definition, value, f"{attr.name}.{sub}"))
    return updated


def _new_item(attr: Attribute, path: PatchPath, value: Any) -> dict[str, Any]:
    """No item matched `attr[sub eq "x"]`: create it, as Entra expects for emails[type eq "work"]."""
    seed = simple_equality(path.selector) if path.selector is not None else {}
    if seed is None:
        raise no_target(f"no {attr.name} item matches the filter")
    item = documents.complex_value(attr, seed, attr.name)
    return _updated_item(attr, item, "add", path.sub, value)
