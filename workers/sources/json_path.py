"""A tiny JSON path: dotted keys with [n] indexes (`data.items`, `emails[0].value`), read-only."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")
_VALID = re.compile(r"^(?:[^.\[\]]+|\[-?\d+\])(?:\.[^.\[\]]+|\[-?\d+\])*$")


class JsonPathError(ValueError):
    """The path itself is malformed (a settings error, not a data error)."""


def parse(path: str) -> list[str | int]:
    """Steps of `path`: keys as str, indexes as int; "" is the whole document."""
    path = path.strip()
    if not path:
        return []
    if not _VALID.match(path):
        raise JsonPathError(f"{path!r} is not a path like data.items or emails[0].value")
    return [int(index) if index else key for key, index in _STEP.findall(path)]


def get(document: Any, path: str | list[str | int], default: Any = None) -> Any:
    """The value at `path`, or `default` when any step is missing or of the wrong kind."""
    current = document
    for step in parse(path) if isinstance(path, str) else path:
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return default
            current = current[step]
        elif isinstance(current, dict) and step in current:
            current = current[step]
        else:
            return default
    return current


def validate(path: str) -> None:
    """Raise JsonPathError when `path` is malformed (for settings validation)."""
    parse(path)
