"""Parsing a directory file (JSON or CSV) into a Snapshot, with a typed check of every record."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from workers.flags import flag
from workers.sources.base import SourceConfigError
from workers.sync.model import Group, Snapshot, User

MAX_REPORTED = 10  # problems named in one error; the rest are counted


class DirectoryFileInvalid(SourceConfigError):
    """The file's content is wrong; `problems` names each record and field at fault."""

    def __init__(self, problems: list[str]):
        shown = "; ".join(problems[:MAX_REPORTED])
        more = len(problems) - MAX_REPORTED
        super().__init__(f"the directory file is invalid: {shown}"
                         + (f"; and {more} more problem(s)" if more > 0 else ""))
        self.problems = problems


class _Records:
    """Collects problems while reading records, so one run reports every bad field at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def objects(self, rows: list[Any], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(where, row) for each row that is an object; the others are problems."""
        for i, row in enumerate(rows):
            where = f"{name}[{i}]"
            if isinstance(row, dict):
                yield where, row
            else:
                self.problems.append(f"{where} must be an object, not {_kind(row)}")

    def id_of(self, value: Any, where: str) -> str | None:
        # ids are text or whole numbers (JSON exports often write numeric ids)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        self.problems.append(f"{where} must be a non-empty string"
                             + ("" if value is None else f", not {_kind(value)}"))
        return None

    def text(self, value: Any, where: str, required: bool = False) -> str:
        if isinstance(value, str) and (value.strip() or not required):
            return value.strip()
        if value is None and not required:
            return ""
        self.problems.append(f"{where} must be a{' non-empty' if required else ''} string"
                             + ("" if value is None else f", not {_kind(value)}"))
        return ""

    def flag(self, value: Any, where: str) -> bool:
        if value is None:
            return True
        if isinstance(value, bool):
            return value
        if isinstance(value, int | str):
            return flag(str(value) or "true", default=True)
        self.problems.append(f"{where} must be true or false, not {_kind(value)}")
        return True

    def ids(self, value: Any, where: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append(f"{where} must be a list of ids, not {_kind(value)}")
            return []
        found = (self.id_of(item, f"{where}[{i}]") for i, item in enumerate(value))
        return [item for item in found if item is not None]

    def once(self, seen: dict[str, str], key: str, where: str, what: str) -> bool:
        """False (and a problem) when `key` was already used by an earlier record."""
        if key in seen:
            self.problems.append(f"{where} repeats the {what} {key!r} of {seen[key]}")
            return False
        seen[key] = where
        return True


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", str: "a string",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def parse_json(text: str, _separator: str = ";") -> Snapshot:
    """{"users": [{id, email, display_name, active}], "groups": [{id, name, parents, members}]}."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise SourceConfigError("the directory file nests JSON too deeply") from None
    except ValueError as exc:
        raise SourceConfigError(f"the directory file is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SourceConfigError(f"the directory file needs a JSON object with a 'users' list, "
                                f"not {_kind(data)}")
    users, groups = data.get("users", []), data.get("groups", [])
    for name, value in (("users", users), ("groups", groups)):
        if not isinstance(value, list):
            raise SourceConfigError(f"the directory file's {name!r} must be a list, "
                                    f"not {_kind(value)}")
    records, snap = _Records(), Snapshot()
    user_ids: dict[str, str] = {}
    for where, row in records.objects(users, "users"):
        uid = records.id_of(row.get("id"), f"{where}.id")
        email = records.text(row.get("email"), f"{where}.email", required=True)
        user = User(uid or "", email, records.text(row.get("display_name"), f"{where}.display_name"),
                    records.flag(row.get("active"), f"{where}.active"))
        if uid and records.once(user_ids, uid, where, "user id"):
            snap.add_user(user)
    group_ids: dict[str, str] = {}
    for where, row in records.objects(groups, "groups"):
        gid = records.id_of(row.get("id"), f"{where}.id")
        name = records.text(row.get("name"), f"{where}.name", required=True)
        parents = records.ids(row.get("parents"), f"{where}.parents")
        members = records.ids(row.get("members"), f"{where}.members")
        if gid and records.once(group_ids, gid, where, "group id"):
            snap.add_group(Group(gid, name, tuple(parents)))
            for member in members:
                snap.add_member(gid, member)
    if records.problems:
        raise DirectoryFileInvalid(records.problems)
    return snap


def parse_csv(text: str, separator: str = ";") -> Snapshot:
    """Columns id, email, display_name, active, groups (names joined by `separator`)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records, snap = _Records(), Snapshot()
    try:
        missing = {"id", "email"} - set(reader.fieldnames or [])
        if missing:
            raise SourceConfigError(f"the CSV file lacks the column(s) {', '.join(sorted(missing))}")
        user_ids: dict[str, str] = {}
        for row in reader:
            where = f"CSV line {reader.line_num}"
            uid = records.text(row.get("id"), f"{where}: id", required=True)
            email = records.text(row.get("email"), f"{where}: email", required=True)
            if not uid or not records.once(user_ids, uid, where, "user id"):
                continue
            snap.add_user(User(uid, email, (row.get("display_name") or "").strip(),
                               flag(row.get("active") or "true", default=True)))
            for name in (row.get("groups") or "").split(separator):
                if name.strip():
                    if name.strip() not in snap.groups:
                        snap.add_group(Group(name.strip(), name.strip()))
                    snap.add_member(name.strip(), uid)
    except csv.Error as exc:
        raise SourceConfigError(f"the CSV file cannot be read near line {reader.line_num}: "
                                f"{exc}") from None
    if records.problems:
        raise DirectoryFileInvalid(records.problems)
    return snap
