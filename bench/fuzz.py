"""Fuzzing of every parser that takes outside input; prints one JSON object.

    .venv/bin/python bench/fuzz.py [--examples 2000] [--seed 1] [--only scim_patch,jwt_request]

Per target: `inputs` tried, `crashes` (an exception the code must not raise), `5xx` (an HTTP
answer >= 500), `rejected` (a typed refusal: 400, 401, a SourceError) and `accepted`, with
up to three crash samples. The goal is zero crashes and zero 5xx. Targets: the SCIM filter
and PATCH path parsers, SCIM list filters and PATCH over HTTP (Flask test client on a fresh
SQLite database), Connect install (RS256) and request (HS256) JWT verification, the
directory-file JSON and CSV parsers and the custom-REST record parser. The Forge Invocation
Token (FIT) verifier runs over RS256 tokens signed with a key its JWKS publishes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bench import fuzz_scim as fs  # noqa: E402
from bench import fuzz_targets as ft  # noqa: E402


def run_target(name: str, strategy: st.SearchStrategy, check: Callable[[Any], str],
               examples: int, seed_value: int) -> dict[str, Any]:
    """Feed `examples` generated inputs to `check`; count outcomes, keep crash samples."""
    tally: dict[str, Any] = {"inputs": 0, "crashes": 0, "5xx": 0, "rejected": 0, "accepted": 0,
                             "samples": []}

    @seed(seed_value)
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def feed(value: Any) -> None:
        tally["inputs"] += 1
        try:
            tally[check(value)] += 1
        except ft.Crash as crash:
            kind = "5xx" if " answered 5" in str(crash) else "crashes"
            tally[kind] += 1
            if len(tally["samples"]) < 3:
                tally["samples"].append({"error": str(crash)[:300], "input": repr(value)[:300]})

    started = time.perf_counter()
    feed()
    tally["seconds"] = round(time.perf_counter() - started, 2)
    return tally


def targets(folder: Path) -> dict[str, tuple[st.SearchStrategy, Callable[[Any], str]]]:
    """Every target's strategy and check, with the servers and app the checks need."""
    from app.connect.install_keys import InstallKeys
    from sandbox.live import LiveServer

    keys = ft.Keys.generate()
    key_server = LiveServer(_key_app(keys)).start()
    install_keys = InstallKeys(key_server.url)
    app = fs.fresh_app(folder)
    with app.app_context():
        endpoint = fs.ScimEndpoint.create(app)
    secrets = {"client-f": ft.SHARED_SECRET}
    fit_keys = ft.forge_keys(keys)
    return {
        "scim_filter_parser": (fs.FILTERS, fs.check_scim_filter),
        "scim_patch_path_parser": (fs.PATHS, fs.check_scim_filter),
        "scim_filter_http": (fs.FILTERS, lambda t: fs.check_scim_filter_http(t, endpoint)),
        "scim_patch_http": (st.tuples(fs.PATCH_BODIES, st.booleans()),
                            lambda c: fs.check_scim_patch_http(c[0], endpoint, c[1])),
        "jwt_install_rs256": (ft.install_cases(keys),
                              lambda c: ft.check_install_jwt(c, install_keys)),
        "jwt_request_hs256": (ft.request_cases(),
                              lambda c: ft.check_request_jwt(c, secrets.get)),
        "directory_file_json": (ft.DIRECTORY_DOCUMENTS, ft.check_directory_json),
        "directory_file_csv": (ft.CSV_TEXTS, ft.check_directory_csv),
        "custom_rest_records": (ft.rest_cases(), ft.check_rest_records),
        "forge_fit_rs256": (ft.fit_cases(keys), lambda t: ft.check_fit(t, fit_keys)),
    }


def _key_app(keys: ft.Keys):  # type: ignore[no-untyped-def]
    from flask import Flask

    app = Flask("install-keys")

    @app.get("/<kid>")
    def key(kid: str):  # type: ignore[no-untyped-def]
        return (keys.public_pem, 200) if kid == keys.kid else ("not found", 404)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated target names")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the SCIM error log would drown the JSON
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="usersync-fuzz-") as tmp:
        chosen = targets(Path(tmp))
        only = {name for name in args.only.split(",") if name}
        results = {name: run_target(name, strategy, check, args.examples, args.seed)
                   for name, (strategy, check) in chosen.items() if not only or name in only}
    print(json.dumps({
        "examples_per_target": args.examples, "seed": args.seed,
        "total": {k: sum(r.get(k, 0) for r in results.values())
                  for k in ("inputs", "crashes", "5xx")},
        "seconds": round(time.perf_counter() - started, 1),
        "targets": results}, indent=2))


if __name__ == "__main__":
    main()
