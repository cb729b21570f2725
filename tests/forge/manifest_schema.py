"""The JSON schema shipped in npm's `@forge/manifest`, installed once into a cache folder
outside the repository (never copied into it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CACHE = Path(os.environ.get("USERSYNC_FORGE_MANIFEST_CACHE",
                            Path.home() / ".cache" / "usersync-forge-manifest"))
SCHEMA = CACHE / "node_modules" / "@forge" / "manifest" / "out" / "schema" / "manifest-schema.json"


def forge_manifest_schema() -> dict[str, Any]:
    if not SCHEMA.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot fetch @forge/manifest's schema")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
                        "@forge/manifest"], check=True, capture_output=True, timeout=600)
    return json.loads(SCHEMA.read_text(encoding="utf-8"))
