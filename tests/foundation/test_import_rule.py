"""The one-way import rule holds at run time, and the import contract covers every web module."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_FOR_WORKERS = {"app", "app.models", "app.db", "app.extensions", "app.crypto",
                       "app.redis_conn", "app.config", "app.settings", "app.logs"}


def _loaded_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return set(json.loads(out.stdout))


def test_the_rq_entry_points_load_no_flask_route() -> None:
    for entry in ("import workers.jobs", "import workers.cron"):
        loaded = _loaded_after(entry)
        web = {m for m in loaded if m.startswith("app.") or m == "app"}
        assert web <= ALLOWED_FOR_WORKERS | {m for m in web if m.startswith("app.models.")}, (
            entry, sorted(web - ALLOWED_FOR_WORKERS))
        assert not any(m.endswith(".routes") or m.endswith(".views") for m in loaded), entry


def test_every_web_module_is_either_allowed_or_forbidden_to_the_workers() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["source_modules"] == ["workers"])
    forbidden = set(contract["forbidden_modules"])
    modules = {f"app.{p.stem if p.is_file() else p.name}" for p in (ROOT / "app").iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert modules - forbidden == ALLOWED_FOR_WORKERS - {"app"}
    assert forbidden <= modules  # no stale names
