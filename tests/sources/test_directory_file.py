"""The directory-file source: a folder it may read from, regular files, a size cap, typed records."""

from __future__ import annotations

import json
import os
import threading

import pytest

from app import config as app_config
from app.settings import Settings
from workers.sources.base import SourceConfigError
from workers.sources.directory_file import DirectoryFileSettings, DirectoryFileSource
from workers.sources.directory_records import DirectoryFileInvalid, parse_csv, parse_json

GOOD = {"users": [{"id": "u1", "email": "a@example.com", "display_name": "A", "active": True},
                  {"id": 2, "email": "b@example.com", "active": "false"}],
        "groups": [{"id": "g1", "name": "Crew", "members": ["u1", 2], "parents": []}]}


@pytest.fixture
def folder(tmp_path, use_settings):
    allowed = tmp_path / "files"
    allowed.mkdir()
    use_settings(directory_files_dir=str(allowed))
    return allowed


def fetch(path) -> object:
    return DirectoryFileSource({"path": str(path), "format": "auto"}).fetch()


def test_a_file_in_the_folder_is_read(folder):
    (folder / "people.json").write_text(json.dumps(GOOD))
    snap = fetch(folder / "people.json")
    assert set(snap.users) == {"u1", "2"} and snap.users["2"].active is False
    assert snap.members == {"g1": {"u1", "2"}}


def test_paths_outside_the_folder_are_refused(folder, tmp_path):
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(GOOD))
    with pytest.raises(SourceConfigError, match="outside"):
        fetch(outside)
    with pytest.raises(SourceConfigError, match="outside"):
        fetch(folder / ".." / "secret.json")
    errors = DirectoryFileSettings().validate({"path": str(outside)})
    assert "outside" in str(errors["path"])


def test_a_symlink_out_of_the_folder_is_refused(folder, tmp_path):
    (tmp_path / "secret.json").write_text(json.dumps(GOOD))
    (folder / "link.json").symlink_to(tmp_path / "secret.json")
    with pytest.raises(SourceConfigError, match="outside"):
        fetch(folder / "link.json")


def test_fifos_and_devices_are_refused_without_blocking(folder, use_settings):
    os.mkfifo(folder / "pipe.json")
    result: list = []
    reader = threading.Thread(target=lambda: result.append(_error_of(folder / "pipe.json")))
    reader.start()
    reader.join(timeout=5)
    assert result and "not a regular file" in result[0]
    use_settings(directory_files_dir="/dev")
    with pytest.raises(SourceConfigError, match="not a regular file"):
        fetch("/dev/zero")


def _error_of(path) -> str:
    try:
        fetch(path)
    except SourceConfigError as exc:
        return exc.message
    return "read"


def test_size_cap(folder, use_settings):
    use_settings(directory_file_max_mb=1)
    (folder / "big.json").write_text(json.dumps(GOOD) + " " * (1024 * 1024))
    with pytest.raises(SourceConfigError, match="larger than 1,048,576 bytes"):
        fetch(folder / "big.json")
    huge = json.dumps(GOOD) + " " * (1024 * 1024)
    assert "larger than" in str(DirectoryFileSettings().validate({"content": huge}))


def test_production_without_a_folder_refuses_server_paths(tmp_path, use_settings):
    use_settings(directory_files_dir=None, env="production")
    (tmp_path / "p.json").write_text(json.dumps(GOOD))
    with pytest.raises(SourceConfigError, match="USERSYNC_DIRECTORY_FILES_DIR"):
        fetch(tmp_path / "p.json")
    # uploads still work
    assert set(DirectoryFileSource({"content": json.dumps(GOOD)}).fetch().users) == {"u1", "2"}


def test_relative_paths_are_refused(folder):
    with pytest.raises(SourceConfigError, match="absolute"):
        fetch("files/people.json")


def test_the_policy_reads_the_settings(tmp_path):
    def policy(**env):  # type: ignore[no-untyped-def]
        cfg = app_config.load({"USERSYNC_INSTANCE_PATH": str(tmp_path), **env})
        return app_config.directory_file_policy(Settings.from_flask_config(cfg))

    chosen = policy(USERSYNC_DIRECTORY_FILES_DIR="/srv/dir", USERSYNC_DIRECTORY_FILE_MAX_MB="2")
    assert (chosen.folder, chosen.max_bytes, chosen.production) == ("/srv/dir", 2 << 20, False)
    with pytest.raises(app_config.ConfigError, match="USERSYNC_DIRECTORY_FILE_MAX_MB"):
        policy(USERSYNC_DIRECTORY_FILE_MAX_MB="lots")


@pytest.mark.parametrize("document, problem", [
    ({"users": [{"id": "u1", "email": ["a@example.com"]}]}, "users[0].email must be a non-empty string, not a list"),
    ({"users": [{"id": {"x": 1}, "email": "a@example.com"}]}, "users[0].id must be a non-empty string, not an object"),
    ({"users": [{"id": "u1", "email": "a@x", "display_name": 5}]}, "users[0].display_name must be a string"),
    ({"users": [{"id": "u1", "email": "a@x", "active": []}]}, "users[0].active must be true or false"),
    ({"users": [], "groups": [{"id": "g", "name": "G", "members": 5}]}, "groups[0].members must be a list of ids"),
    ({"users": [], "groups": [{"id": "g", "name": "G", "parents": "p"}]}, "groups[0].parents must be a list"),
    ({"users": [], "groups": [{"id": "g", "name": "G", "members": [{"id": 1}]}]}, "groups[0].members[0]"),
    ({"users": ["u1"]}, "users[0] must be an object, not a string"),
    ({"users": {"u1": {}}}, "'users' must be a list, not an object"),
    ({"users": [], "groups": "g"}, "'groups' must be a list"),
    ([], "needs a JSON object"),
])
def test_wrong_types_are_typed_errors(document, problem):
    with pytest.raises(SourceConfigError) as err:
        parse_json(json.dumps(document))
    assert problem in err.value.message


def test_duplicate_ids_are_reported():
    doc = {"users": [{"id": "u1", "email": "a@x"}, {"id": "u1", "email": "b@x"}],
           "groups": [{"id": "g", "name": "G"}, {"id": "g", "name": "H"}]}
    with pytest.raises(DirectoryFileInvalid) as err:
        parse_json(json.dumps(doc))
    assert err.value.problems == ["users[1] repeats the user id 'u1' of users[0]",
                                  "groups[1] repeats the group id 'g' of groups[0]"]
    with pytest.raises(DirectoryFileInvalid, match="CSV line 3 repeats the user id 'u1'"):
        parse_csv("id,email\nu1,a@x\nu1,b@x\n")


def test_many_problems_are_counted_not_listed_forever():
    doc = {"users": [{"id": f"u{i}"} for i in range(25)]}
    with pytest.raises(DirectoryFileInvalid, match="and 15 more problem"):
        parse_json(json.dumps(doc))


def test_unreadable_csv_and_deep_json_are_clear_errors():
    with pytest.raises(SourceConfigError, match="CSV file cannot be read"):
        parse_csv("id,email\nu1,\"" + "a" * 200_000 + "\"\n")
    with pytest.raises(SourceConfigError, match="too deeply"):
        parse_json('{"users": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_a_run_on_a_wrongly_typed_file_fails_with_the_field_named(test_config, tmp_path):
    from tests.engine.harness import directory, stack

    with stack(test_config, tmp_path) as s:
        cid = s.connection(directory([("u1", "a@example.com", True)], {"crew": ["u1"]}))
        bad = directory([("u1", "a@example.com", True)], {"crew": ["u1"]})
        bad["groups"][0]["members"] = 5
        s.write_directory(bad)
        run = s.sync(cid)
    assert run.status == "failed"
    assert "groups[0].members must be a list of ids, not a number" in run.error
    assert "internal error" not in run.error
