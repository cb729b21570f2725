"""A compiled yes/no check for the JSON Schema subset OpenAPI uses, so valid bodies cost little.

jsonschema walks the schema on every call, which costs ~10 ms for a page of 50 users. Here a
schema is compiled once into nested closures. The compiled check only answers "valid?"; when
it says no, the caller asks jsonschema for the readable reasons. Any keyword not understood
here is delegated to jsonschema for that subtree, so the verdict never gets looser than it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]
# Draft 4 keywords that validate but are not compiled here: such subtrees go to jsonschema.
# Every other unknown keyword is ignored, exactly as jsonschema ignores it.
DELEGATED = {"multipleOf", "additionalItems", "maxProperties", "minProperties",
             "patternProperties", "dependencies"}
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class Compiler:
    """Compiles schemas of one document; `resolve` maps a $ref to its schema,
    `fallback` builds a jsonschema-backed check for a subtree it cannot compile."""

    def __init__(self, resolve: Callable[[str], dict], fallback: Callable[[dict], Check]):
        self.resolve, self.fallback = resolve, fallback
        self._refs: dict[str, Check | None] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if "$ref" in schema:  # draft 4: $ref replaces its siblings
            return self._ref(schema["$ref"])
        if DELEGATED & set(schema):
            return self.fallback(schema)
        checks = [KEYWORDS[k](self, schema[k], schema) for k in schema if k in KEYWORDS]
        checks = [c for c in checks if c is not None]
        return lambda v: all(c(v) for c in checks)

    def _ref(self, ref: str) -> Check:
        if ref not in self._refs:
            self._refs[ref] = None  # being compiled: a recursive use looks it up when run
            self._refs[ref] = self.compile(self.resolve(ref))
        check = self._refs[ref]
        if check is None:
            return lambda v: self._refs[ref](v)
        return check


def _type(c: Compiler, kind: Any, schema: dict) -> Check:
    kinds = [kind] if isinstance(kind, str) else list(kind)
    tests = [TYPES[k] for k in kinds]
    return lambda v: any(t(v) for t in tests)


def _properties(c: Compiler, props: dict, schema: dict) -> Check:
    compiled = {name: c.compile(s) for name, s in props.items()}
    return lambda v: not isinstance(v, dict) or all(
        compiled[k](v[k]) for k in compiled if k in v)


def _additional(c: Compiler, extra: Any, schema: dict) -> Check:
    known = set(schema.get("properties", {}))
    check = c.compile(extra if isinstance(extra, dict) else bool(extra))
    return lambda v: not isinstance(v, dict) or all(
        check(val) for k, val in v.items() if k not in known)


def _required(c: Compiler, names: list, schema: dict) -> Check:
    return lambda v: not isinstance(v, dict) or all(n in v for n in names)


def _items(c: Compiler, items: Any, schema: dict) -> Check | None:
    if isinstance(items, list):
        return c.fallback({"items": items})
    check = c.compile(items)
    return lambda v: not isinstance(v, list) or all(check(x) for x in v)


def _enum(c: Compiler, values: list, schema: dict) -> Check:
    return lambda v: any(v == e and type(v) is type(e) or (
        isinstance(v, int | float) and isinstance(e, int | float) and not isinstance(v, bool)
        and not isinstance(e, bool) and v == e) for e in values)


def _combinator(kind: str) -> Callable[[Compiler, list, dict], Check]:
    def build(c: Compiler, subs: list, schema: dict) -> Check:
        checks = [c.compile(s) for s in subs]
        if kind == "allOf":
            return lambda v: all(ch(v) for ch in checks)
        if kind == "anyOf":
            return lambda v: any(ch(v) for ch in checks)
        return lambda v: sum(1 for ch in checks if ch(v)) == 1
    return build


def _bound(kind: str) -> Callable[[Compiler, Any, dict], Check]:
    def build(c: Compiler, limit: Any, schema: dict) -> Check:
        number = TYPES["number"]
        if kind == "minimum":
            exclusive = schema.get("exclusiveMinimum") is True
            return lambda v: not number(v) or (v > limit if exclusive else v >= limit)
        exclusive = schema.get("exclusiveMaximum") is True
        return lambda v: not number(v) or (v < limit if exclusive else v <= limit)
    return build


def _length(kind: str) -> Callable[[Compiler, int, dict], Check]:
    def build(c: Compiler, n: int, schema: dict) -> Check:
        of = str if kind.endswith("Length") else list
        if kind.startswith("max"):
            return lambda v: not isinstance(v, of) or len(v) <= n
        return lambda v: not isinstance(v, of) or len(v) >= n
    return build


def _unique(c: Compiler, flag: bool, schema: dict) -> Check | None:
    if not flag:
        return None
    return lambda v: not isinstance(v, list) or len(
        {json.dumps(x, sort_keys=True) for x in v}) == len(v)


def _pattern(c: Compiler, pattern: str, schema: dict) -> Check:
    regex = re.compile(pattern)
    return lambda v: not isinstance(v, str) or regex.search(v) is not None


def _not(c: Compiler, sub: Any, schema: dict) -> Check:
    check = c.compile(sub)
    return lambda v: not check(v)


KEYWORDS: dict[str, Callable[..., Check | None]] = {
    "type": _type, "properties": _properties, "additionalProperties": _additional,
    "required": _required, "items": _items, "enum": _enum,
    "allOf": _combinator("allOf"), "anyOf": _combinator("anyOf"),
    "oneOf": _combinator("oneOf"), "minimum": _bound("minimum"),
    "maximum": _bound("maximum"), "exclusiveMinimum": lambda c, f, s: None,
    "exclusiveMaximum": lambda c, f, s: None, "maxLength": _length("maxLength"),
    "minLength": _length("minLength"), "maxItems": _length("maxItems"),
    "minItems": _length("minItems"), "uniqueItems": _unique, "pattern": _pattern,
    "not": _not,
}
