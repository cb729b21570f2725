"""The scim source: what the IdP pushed, read back from our tables as a Snapshot for the sync engine."""

from __future__ import annotations

import pytest

from app.connections import validate_settings
from tests.scim.conftest import ScimClient, add_connection, connect_client, group_body, user_body
from workers.sources import registry
from workers.sources.base import SourceConfigError
from workers.sources.scim_push import ScimPushSource


def build(connection_id: int) -> ScimPushSource:
    """As the engine builds sources: the registry by kind, settings through the schema."""
    cls = registry.get("scim_push")
    return cls(cls.settings_schema().load({"connection_id": connection_id}))


def test_snapshot_of_users_groups_members_and_nesting(scim: ScimClient, live) -> None:
    ada = scim.post("/Users", user_body("ada", displayName="Ada L", emails=[
        {"value": "ada@home.example", "type": "home"},
        {"value": "ada@work.example", "type": "work", "primary": True}])).json()
    bob = scim.post("/Users", {"userName": "bob@example.com", "active": "False",
                               "name": {"givenName": "Bob", "familyName": "B"}}).json()
    eve = scim.post("/Users", {"userName": "eve"}).json()
    inner = scim.post("/Groups", group_body("inner", [bob["id"]])).json()
    outer = scim.post("/Groups", group_body("outer", [ada["id"], inner["id"]])).json()
    connect_client(live).post("/Users", user_body("stranger@example.com"))

    snap = build(scim.connection_id).fetch()
    assert snap.complete and set(snap.users) == {ada["id"], bob["id"], eve["id"]}
    assert (snap.users[ada["id"]].email, snap.users[ada["id"]].display_name) == (
        "ada@work.example", "Ada L")
    assert (snap.users[bob["id"]].email, snap.users[bob["id"]].active,
            snap.users[bob["id"]].display_name) == ("bob@example.com", False, "Bob B")
    assert snap.users[eve["id"]].email == ""  # no address anywhere: the engine decides
    assert snap.groups[inner["id"]].parent_ids == (outer["id"],)
    assert snap.groups[outer["id"]].parent_ids == ()
    assert snap.members == {inner["id"]: {bob["id"]}, outer["id"]: {ada["id"]}}


def test_connection_check_needs_a_live_token(scim: ScimClient, app) -> None:
    assert build(scim.connection_id).test_connection().ok
    fresh = build(add_connection()).test_connection()
    assert not fresh.ok and "token" in fresh.message


def test_a_scim_connection_needs_no_settings_from_the_admin(app) -> None:
    plain, secret = validate_settings("scim_push", {})
    assert secret == {}
    settings = {**plain, "connection_id": 7}  # what the engine adds before building the source
    assert build_from(settings).connection_id == 7
    with pytest.raises(SourceConfigError):
        build_from(plain)


def build_from(settings: dict) -> ScimPushSource:
    cls = registry.get("scim_push")
    return cls(cls.settings_schema().load(settings))
