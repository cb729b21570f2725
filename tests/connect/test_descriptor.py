"""The served descriptor is valid against Atlassian's Connect schema (apiMigrations relaxed)."""

from __future__ import annotations

import jsonschema
import pytest

from sandbox.atlassian.spec import read_spec_file


@pytest.fixture(scope="module")
def schema() -> dict:
    schema = read_spec_file("connect-jira-global-schema.json")
    # The 2019 schema predates signed-install and context-qsh: allow exactly those two keys.
    props = schema["properties"]["apiMigrations"]["properties"]
    props["signed-install"] = {"type": "boolean"}
    props["context-qsh"] = {"type": "boolean"}
    return schema


def test_served_descriptor_is_valid(client, schema):
    descriptor = client.get("/atlassian-connect.json").json
    jsonschema.validate(descriptor, schema)
    assert descriptor["baseUrl"] == "https://usersync.test"
    assert descriptor["authentication"] == {"type": "jwt"}
    assert set(descriptor["scopes"]) == {"READ", "ADMIN"}
    assert descriptor["apiMigrations"] == {"signed-install": True, "context-qsh": True, "gdpr": True}
    assert {w["event"] for w in descriptor["modules"]["webhooks"]} == {
        "user_created", "user_updated", "user_deleted"}
    assert set(descriptor["lifecycle"]) == {"installed", "uninstalled", "enabled", "disabled"}


def test_schema_catches_a_broken_descriptor(client, schema):
    descriptor = client.get("/atlassian-connect.json").json
    descriptor["scopes"] = ["EVERYTHING"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(descriptor, schema)


def test_app_key_and_base_url_come_from_settings(test_config):
    from app import create_app

    test_config.update(APP_KEY="com.acme.sync", BASE_URL="https://sync.acme.example/")
    d = create_app(test_config).test_client().get("/atlassian-connect.json").json
    assert d["key"] == "com.acme.sync" and d["baseUrl"] == "https://sync.acme.example"
