"""Filters evaluated on items of a multi-valued attribute (PATCH `emails[type eq "work"]`)."""

from __future__ import annotations

from typing import Any

from app.scim.errors import invalid_filter
from app.scim.filters import And, Compare, Node, Not, Or, Present, ValuePath


def _field(item: Any, path: str) -> Any:
    """The item's sub-attribute named `path` (lower-case); a bare value for `value`."""
    if not isinstance(item, dict):
        return item if path == "value" else None
    for key, value in item.items():
        if key.lower() == path:
            return value
    return None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return op == "ne" and expected is not None
    if isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.lower(), expected.lower()
    elif op in ("co", "sw", "ew"):
        return False
    try:
        return {
            "eq": lambda: actual == expected, "ne": lambda: actual != expected,
            "co": lambda: expected in actual, "sw": lambda: actual.startswith(expected),
            "ew": lambda: actual.endswith(expected), "gt": lambda: actual > expected,
            "ge": lambda: actual >= expected, "lt": lambda: actual < expected,
            "le": lambda: actual <= expected,
        }[op]()
    except TypeError:
        return False


def matches(node: Node, item: Any) -> bool:
    """Whether `item` satisfies `node`."""
    if isinstance(node, Compare):
        return _compare(_field(item, node.path), node.op, node.value)
    if isinstance(node, Present):
        return _field(item, node.path) not in (None, "", [], {})
    if isinstance(node, And):
        return matches(node.left, item) and matches(node.right, item)
    if isinstance(node, Or):
        return matches(node.left, item) or matches(node.right, item)
    if isinstance(node, Not):
        return not matches(node.inner, item)
    if isinstance(node, ValuePath):
        raise invalid_filter("a value path cannot nest inside another")
    raise invalid_filter(f"unsupported filter {node!r}")


def simple_equality(node: Node) -> dict[str, Any] | None:
    """`a eq 1 and b eq 2` → {"a": 1, "b": 2}; None for anything else."""
    if isinstance(node, Compare) and node.op == "eq":
        return {node.path: node.value}
    if isinstance(node, And):
        left, right = simple_equality(node.left), simple_equality(node.right)
        if left is not None and right is not None:
            return left | right
    return None


def equal_values(node: Node, path: str = "value") -> list[Any] | None:
    """`value eq "a" or value eq "b"` → ["a", "b"]; None when the filter says anything else."""
    if isinstance(node, Compare) and node.op == "eq" and node.path == path:
        return [node.value]
    if isinstance(node, Or):
        left, right = equal_values(node.left, path), equal_values(node.right, path)
        if left is not None and right is not None:
            return left + right
    return None
