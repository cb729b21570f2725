"""A directory file (JSON or CSV), uploaded or at a server path, as an IdP source."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app import config as app_config
from workers.sources.base import Source, SourceConfigError
from workers.sources.directory_records import (  # noqa: F401  (re-exported)
    DirectoryFileInvalid,
    parse_csv,
    parse_json,
)
from workers.sources.records import group_slice, user_slice
from workers.sources.settings import field_meta
from workers.sync.model import GroupSlice, Snapshot, UserSlice

FORMATS = ("auto", "json", "csv")


def allowed_path(value: str, policy: app_config.DirectoryFilePolicy) -> Path:
    """The real path of `value` when the policy lets the workers read it, else SourceConfigError.

    Symlinks are resolved first, so a link inside the folder that points out of it is refused.
    """
    path = Path(value)
    if not path.is_absolute():
        raise SourceConfigError(f"the directory file path {value!r} must be absolute")
    if policy.folder is None:
        if policy.production:
            raise SourceConfigError("server-side directory files are off: set "
                                    "USERSYNC_DIRECTORY_FILES_DIR to the folder they live in, "
                                    "or upload the file instead")
        return Path(os.path.realpath(path))
    folder = Path(os.path.realpath(policy.folder))
    real = Path(os.path.realpath(path))
    if real != folder and folder not in real.parents:
        raise SourceConfigError(f"the directory file {value} is outside {policy.folder} "
                                f"(USERSYNC_DIRECTORY_FILES_DIR)")
    return real


def read_file(value: str, policy: app_config.DirectoryFilePolicy) -> str:
    """The text of a regular file under the policy's folder, at most `policy.max_bytes` long."""
    path = allowed_path(value, policy)
    try:
        before = os.stat(path)
        if not stat.S_ISREG(before.st_mode):
            raise SourceConfigError(f"the directory file {value} is not a regular file")
        # O_NONBLOCK: a FIFO swapped in after the stat must not hang the worker on open
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SourceConfigError(f"the directory file {value} does not exist") from None
    except OSError as exc:
        raise SourceConfigError(f"the directory file {value} cannot be read: "
                                f"{exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        now = os.fstat(fh.fileno())
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (before.st_dev,
                                                                          before.st_ino):
            raise SourceConfigError(f"the directory file {value} changed while it was opened")
        data = fh.read(policy.max_bytes + 1)
    return decode(data, value, policy.max_bytes)


def decode(data: bytes, what: str, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise SourceConfigError(f"the directory file {what} is larger than {max_bytes:,} bytes "
                                f"(USERSYNC_DIRECTORY_FILE_MAX_MB)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceConfigError(f"the directory file {what} is not UTF-8 text "
                                f"(byte {exc.start})") from None


class DirectoryFileSettings(Schema):
    path = fields.String(load_default=None, metadata=field_meta(
        "File path on the server", "Absolute path of a JSON or CSV directory file under the "
        "server's directory files folder (USERSYNC_DIRECTORY_FILES_DIR)."))
    content = fields.String(load_default=None, metadata=field_meta(
        "Uploaded file", "The file's text, when uploaded instead of read from a path."))
    format = fields.String(load_default="auto", validate=validate.OneOf(FORMATS),
                           metadata=field_meta("Format",
                                               "json, csv, or auto (by extension/content)."))
    group_separator = fields.String(load_default=";", validate=validate.Length(equal=1),
                                    metadata=field_meta("CSV group separator", "Character between "
                                                        "group names in the CSV `groups` column."))

    @validates_schema
    def _one_source(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("path")) == bool(data.get("content")):
            raise ValidationError("give exactly one of path or content")
        policy = app_config.directory_file_policy()
        if data.get("path"):
            try:
                allowed_path(data["path"], policy)
            except SourceConfigError as exc:
                raise ValidationError(exc.message, "path") from None
        elif len(data["content"].encode()) > policy.max_bytes:
            raise ValidationError(f"larger than {policy.max_bytes:,} bytes", "content")


class DirectoryFileSource(Source):
    """JSON: {"users": [{id, email, display_name, active}], "groups": [{id, name, parents,
    members}]}. CSV: columns id, email, display_name, active, groups (names joined by the
    separator); a group's id is its name."""

    kind = "directory_file"
    label = "Directory file (JSON or CSV)"
    settings_schema = DirectoryFileSettings
    supports_targeted = True

    def check(self) -> str:
        snapshot = self.fetch()
        return f"Read {len(snapshot.users)} users and {len(snapshot.groups)} groups."

    def fetch(self) -> Snapshot:
        text, name = self._text()
        fmt = self.settings.get("format") or "auto"
        if fmt == "auto":
            fmt = "json" if name.endswith(".json") or text.lstrip().startswith("{") else "csv"
        parse = parse_json if fmt == "json" else parse_csv
        return parse(text, self.settings.get("group_separator") or ";")

    # the file is read whole either way: a slice of it is exact and cheap enough
    def fetch_user(self, user_id: str) -> UserSlice:
        return user_slice(self.fetch(), user_id)

    def fetch_group(self, group_id: str) -> GroupSlice:
        return group_slice(self.fetch(), group_id)

    def _text(self) -> tuple[str, str]:
        policy = app_config.directory_file_policy()
        if self.settings.get("content"):
            content = self.settings["content"]
            if len(content.encode()) > policy.max_bytes:
                raise SourceConfigError(f"the uploaded directory file is larger than "
                                        f"{policy.max_bytes:,} bytes")
            return content, ""
        path = self.settings.get("path") or ""
        return read_file(path, policy), Path(path).name
