"""The Connect descriptor: `manifest/atlassian-connect.json` filled with this deployment's settings."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[2] / "manifest" / "atlassian-connect.json"


@lru_cache(maxsize=1)
def _template() -> str:
    return TEMPLATE.read_text()


def render(base_url: str, app_key: str) -> dict[str, Any]:
    """The descriptor for `base_url` and `app_key`; values are JSON-escaped before substitution."""
    text = _template()
    for name, value in (("base_url", base_url.rstrip("/")), ("app_key", app_key)):
        text = text.replace("{{" + name + "}}", json.dumps(value)[1:-1])
    return json.loads(text)
