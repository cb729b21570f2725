"""manifest/manifest.yml: valid against @forge/manifest's schema, and wired to routes we serve."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app import config
from tests.forge.manifest_schema import forge_manifest_schema

MANIFEST = Path(__file__).resolve().parents[2] / "manifest" / "manifest.yml"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_manifest_is_valid_against_the_forge_schema(manifest):
    schema = forge_manifest_schema()
    validator = jsonschema.Draft7Validator(schema)
    problems = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    assert not problems, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                                   for e in problems)


def test_the_schema_check_catches_a_broken_manifest(manifest):
    broken = dict(manifest, modules=dict(manifest["modules"]))
    broken["modules"]["scheduledTrigger"] = [{"key": "t", "endpoint": "usersync-schedule",
                                             "interval": "everyMinute"}]
    assert list(jsonschema.Draft7Validator(forge_manifest_schema()).iter_errors(broken))


def test_every_endpoint_route_is_served_by_the_app(manifest, app):
    adapter = app.url_map.bind("usersync.test")
    routes = [e["route"]["path"] for e in manifest["modules"]["endpoint"] if "route" in e]
    assert routes
    for path in routes:
        try:
            adapter.match(path, method="POST")  # triggers and events always POST
        except (NotFound, MethodNotAllowed):
            pytest.fail(f"{path} is not a POST route of the app")


def test_modules_refer_to_declared_endpoints_resources_and_remotes(manifest):
    modules = manifest["modules"]
    endpoints = {e["key"] for e in modules["endpoint"]}
    remotes = {r["key"] for r in manifest["remotes"]}
    resources = {r["key"] for r in manifest["resources"]}
    assert {e["remote"] for e in modules["endpoint"]} <= remotes
    for kind in ("scheduledTrigger", "trigger", "preUninstall"):
        assert {m["endpoint"] for m in modules[kind]} <= endpoints, kind
    for kind in ("jira:adminPage", "confluence:globalSettings"):
        for page in modules[kind]:
            assert page["resolver"]["endpoint"] in endpoints and page["resource"] in resources
            assert page["useAsConfig"] is True
    assert manifest["app"]["connect"]["remote"] in remotes


def test_manifest_matches_what_the_service_expects(manifest):
    modules = manifest["modules"]
    assert manifest["app"]["connect"]["key"] == config.DEFAULT_APP_KEY
    assert [t["interval"] for t in modules["scheduledTrigger"]] == ["fiveMinute"]
    assert set(modules["trigger"][0]["events"]) == {"avi:forge:installed:app",
                                                    "avi:forge:upgraded:app"}
    token_routes = {e["route"]["path"] for e in modules["endpoint"]
                    if e.get("auth", {}).get("appSystemToken", {}).get("enabled")
                    and "route" in e}
    assert token_routes == {"/forge/lifecycle", "/forge/schedule", "/forge/events"}
    user_events = {t["endpoint"]: t["events"] for t in modules["trigger"]}["usersync-events"]
    assert user_events == ["avi:jira:created:user"]
    resolver = {e["key"]: e for e in modules["endpoint"]}["usersync-admin"]
    assert resolver["auth"]["appUserToken"]["enabled"] is True  # the admin check asks as the user
    assert "read:app-user-token" in manifest["permissions"]["scopes"]
    assert "read:app-system-token" in manifest["permissions"]["scopes"]
    assert not [s for s in manifest["permissions"]["scopes"] if s.startswith(("write:", "manage:"))]
    assert manifest["resources"][0]["path"] == "app/admin/ui/dist"
