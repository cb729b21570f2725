"""A directory file (JSON or CSV), uploaded or at a server path, as an IdP source."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from workers.sources.base import ConnectionCheck, Source, SourceConfigError, SourceError
from workers.sources.registry import register
from workers.sync.model import Group, Snapshot, User

FORMATS = ("auto", "json", "csv")


class DirectoryFileSettings(Schema):
    path = fields.String(load_default=None, metadata={
        "label": "File path on the server", "secret": False,
        "help": "Absolute path of a JSON or CSV directory file the workers can read."})
    content = fields.String(load_default=None, metadata={
        "label": "Uploaded file", "secret": False,
        "help": "The file's text, when uploaded instead of read from a path."})
    format = fields.String(load_default="auto", validate=validate.OneOf(FORMATS), metadata={
        "label": "Format", "secret": False, "help": "json, csv, or auto (by extension/content)."})
    group_separator = fields.String(load_default=";", validate=validate.Length(equal=1), metadata={
        "label": "CSV group separator", "secret": False,
        "help": "Character between group names in the CSV `groups` column."})

    @validates_schema
    def _one_source(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("path")) == bool(data.get("content")):
            raise ValidationError("give exactly one of path or content")


@register
class DirectoryFileSource(Source):
    """JSON: {"users": [{id, email, display_name, active}], "groups": [{id, name, parents,
    members}]}. CSV: columns id, email, display_name, active, groups (names joined by the
    separator); a group's id is its name."""

    kind = "directory_file"
    label = "Directory file (JSON or CSV)"
    settings_schema = DirectoryFileSettings

    def test_connection(self) -> ConnectionCheck:
        try:
            snapshot = self.fetch()
        except SourceError as exc:
            return ConnectionCheck.failed(exc)
        return ConnectionCheck(True, f"Read {len(snapshot.users)} users and {len(snapshot.groups)} groups.")

    def fetch(self) -> Snapshot:
        text, name = self._text()
        fmt = self.settings.get("format") or "auto"
        if fmt == "auto":
            fmt = "json" if name.endswith(".json") or text.lstrip().startswith("{") else "csv"
        parse = parse_json if fmt == "json" else parse_csv
        return parse(text, self.settings.get("group_separator") or ";")

    def _text(self) -> tuple[str, str]:
        if self.settings.get("content"):
            return self.settings["content"], ""
        path = Path(self.settings.get("path") or "")
        try:
            return path.read_text(encoding="utf-8-sig"), path.name
        except FileNotFoundError:
            raise SourceConfigError(f"the directory file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceConfigError(f"the directory file {path} cannot be read: {exc}") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("false", "0", "no", "n", "disabled", "inactive")


def parse_json(text: str, _separator: str = ";") -> Snapshot:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SourceConfigError(f"the directory file is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("users", []), list):
        raise SourceConfigError("the directory file needs an object with a 'users' list")
    snap = Snapshot()
    for i, row in enumerate(data.get("users", [])):
        if not isinstance(row, dict) or not row.get("id") or not row.get("email"):
            raise SourceConfigError(f"users[{i}] needs an id and an email")
        snap.add_user(User(str(row["id"]), str(row["email"]), str(row.get("display_name", "")),
                           _bool(row.get("active", True))))
    for i, row in enumerate(data.get("groups", [])):
        if not isinstance(row, dict) or not row.get("id") or not row.get("name"):
            raise SourceConfigError(f"groups[{i}] needs an id and a name")
        gid = str(row["id"])
        snap.add_group(Group(gid, str(row["name"]), tuple(str(p) for p in row.get("parents", []))))
        for member in row.get("members", []):
            snap.add_member(gid, str(member))
    return snap


def parse_csv(text: str, separator: str = ";") -> Snapshot:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id", "email"} - set(reader.fieldnames or [])
    if missing:
        raise SourceConfigError(f"the CSV file lacks the column(s) {', '.join(sorted(missing))}")
    snap = Snapshot()
    for line, row in enumerate(reader, start=2):
        if not row.get("id") or not row.get("email"):
            raise SourceConfigError(f"CSV line {line} needs an id and an email")
        snap.add_user(User(row["id"].strip(), row["email"].strip(),
                           (row.get("display_name") or "").strip(), _bool(row.get("active", "true"))))
        for name in (row.get("groups") or "").split(separator):
            if name.strip():
                if name.strip() not in snap.groups:
                    snap.add_group(Group(name.strip(), name.strip()))
                snap.add_member(name.strip(), row["id"].strip())
    return snap
