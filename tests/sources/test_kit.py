"""The connector kit: the explicit registry, settings loaded once into a frozen object, the one
shape a Source must have, and the one policy for a malformed record."""

from __future__ import annotations

import dataclasses
import pkgutil

import pytest
from marshmallow import Schema, fields

import workers.sources as package
from workers.sources import registry
from workers.sources.base import Source, SourceConfigError, SourceError
from workers.sources.records import convert, group_slice, strict, user_slice
from workers.sources.settings import Settings, load_settings
from workers.sync.model import Group, Snapshot, User


def test_every_kind_is_the_module_of_its_name():
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    for kind in registry.kinds():
        assert kind in modules
        assert registry.get(kind).kind == kind
    assert "scim" not in registry.kinds()
    with pytest.raises(KeyError, match="scim_push"):
        registry.get("scim")


def test_build_loads_settings_once_into_a_frozen_object():
    source = registry.build("okta", {"org_url": "https://acme.okta.com", "unknown": 1},
                            {"api_token": "t"})
    settings = source.settings
    assert isinstance(settings, Settings)
    assert (settings.org_url, settings["api_token"], settings.auth_method) == (
        "https://acme.okta.com", "t", "api_token")  # defaults filled in by the schema
    assert "unknown" not in settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.org_url = "https://other.okta.com"  # type: ignore[misc]
    assert type(source)(settings).settings is settings  # not loaded a second time


def test_bad_settings_name_the_field():
    with pytest.raises(SourceConfigError, match="api_token"):
        registry.build("okta", {"org_url": "https://acme.okta.com"})


def test_a_source_must_have_the_whole_shape():
    class Half(Source):
        kind, label = "half", "Half"

        def check(self) -> str:
            return "ok"

    with pytest.raises(TypeError):  # fetch() is missing
        Half({})

    class NoSchema(Schema):
        url = fields.String()

    with pytest.raises(TypeError, match="kind, label and settings_schema"):
        class Nameless(Source):  # noqa: F841 (the class statement is what fails)
            settings_schema = NoSchema

            def check(self) -> str:
                return "ok"

            def fetch(self) -> Snapshot:
                return Snapshot()


def test_settings_classes_refuse_fields_named_like_mapping_methods():
    class Clash(Schema):
        items = fields.String()

    with pytest.raises(TypeError, match="items"):
        load_settings(Clash, {})


def test_a_malformed_record_is_skipped_counted_and_makes_the_read_incomplete():
    snapshot = Snapshot()
    users = list(convert([{"id": "a"}, {"name": "no id"}, {"id": "b"}],
                         lambda r: User(r["id"], ""), snapshot, "user"))
    assert [u.id for u in users] == ["a", "b"]
    assert not snapshot.complete and len(snapshot.errors) == 1
    assert "malformed user record" in snapshot.errors[0]


def test_in_a_one_item_read_a_malformed_record_fails_the_read():
    with pytest.raises(SourceError, match="malformed group record"):
        strict(lambda r: Group(r["id"], r["name"]), {"name": "x"}, "group")


def test_slices_cut_from_a_snapshot():
    snapshot = Snapshot()
    snapshot.add_user(User("u", "u@example.com"))
    snapshot.add_group(Group("g", "G", ("p",)))
    snapshot.add_group(Group("p", "P"))
    snapshot.add_member("g", "u")
    assert user_slice(snapshot, "u").groups == (Group("g", "G", ("p",)),)
    assert group_slice(snapshot, "g").members == (User("u", "u@example.com"),)
    assert user_slice(snapshot, "x").user is None and group_slice(snapshot, "x").group is None
