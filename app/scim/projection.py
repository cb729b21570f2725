"""`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) applied to a rendered resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.scim.errors import invalid_value
from app.scim.resource_types import ResourceType

ALWAYS = ("schemas", "id", "meta")


@dataclass(frozen=True)
class Projection:
    """Which attributes to return; paths are (container URN or "", attr, sub or "") lower-case."""

    include: tuple[tuple[str, str, str], ...] = ()
    exclude: tuple[tuple[str, str, str], ...] = ()

    def wants(self, attr: str) -> bool:
        """Whether the core attribute `attr` (lower-case) appears in the output at all."""
        if self.include:
            return any(c == "" and a == attr for c, a, _ in self.include)
        return not any(c == "" and a == attr and not s for c, a, s in self.exclude)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.include:
            return _only(resource, self.include)
        if self.exclude:
            return _without(resource, self.exclude)
        return resource


def parse(rtype: ResourceType, attributes: str | None, excluded: str | None) -> Projection:
    """Parse the two query parameters; giving both is a 400 (they are mutually exclusive)."""
    if attributes and excluded:
        raise invalid_value("attributes and excludedAttributes cannot be used together")
    return Projection(_paths(rtype, attributes), _paths(rtype, excluded))


def _paths(rtype: ResourceType, text: str | None) -> tuple[tuple[str, str, str], ...]:
    if not text:
        return ()
    return tuple(_path(rtype, item.strip()) for item in text.split(",") if item.strip())


def _path(rtype: ResourceType, item: str) -> tuple[str, str, str]:
    lowered = item.lower()
    ext = rtype.extension(lowered)
    if ext is not None:
        return (ext[0], "", "")
    container = ""
    if ":" in lowered:
        urn, _, lowered = lowered.rpartition(":")
        if urn != rtype.schema.lower():
            ext = rtype.extension(urn)
            container = ext[0] if ext else urn
    attr, _, sub = lowered.partition(".")
    return (container, attr, sub)


def _key(mapping: dict[str, Any], name: str) -> str | None:
    return next((k for k in mapping if k.lower() == name), None)


def _only(resource: dict[str, Any], paths: tuple[tuple[str, str, str], ...]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k in ALWAYS}
    for container, attr, sub in paths:
        source = resource.get(container, {}) if container else resource
        if not attr:
            if container in resource:
                out[container] = resource[container]
            continue
        key = _key(source, attr) if isinstance(source, dict) else None
        if key is None:
            continue
        target = out.setdefault(container, {}) if container else out
        target[key] = _pick_sub(source[key], sub) if sub else source[key]
    return out


def _pick_sub(value: Any, sub: str) -> Any:
    if isinstance(value, list):
        return [{k: v for k, v in item.items() if k.lower() == sub}
                for item in value if isinstance(item, dict)]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() == sub}
    return value


def _without(resource: dict[str, Any], paths: tuple[tuple[str, str, str], ...]) -> dict[str, Any]:
    out = dict(resource)
    for container, attr, sub in paths:
        if container and not attr:
            out.pop(container, None)
            continue
        holder = dict(out.get(container) or {}) if container else out
        key = _key(holder, attr)
        if key is None or key in ALWAYS:
            continue
        if sub:
            holder[key] = _drop_sub(holder[key], sub)
        else:
            holder.pop(key)
        if container:
            out[container] = holder
    return out


def _drop_sub(value: Any, sub: str) -> Any:
    if isinstance(value, list):
        return [{k: v for k, v in item.items() if k.lower() != sub} if isinstance(item, dict)
                else item for item in value]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() != sub}
    return value
