"""Atlassian's published OpenAPI files: operation lookup and request/response validation."""

from __future__ import annotations

import gzip
import json
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from .fastcheck import Check, Compiler

SPEC_FILES = {"jira": "jira-platform-v3.openapi.json", "confluence": "confluence-v1.openapi.json"}
DESCRIPTOR_SCHEMA = "connect-jira-global-schema.json"
# The 2019 descriptor schema predates these migrations; Cloud accepts and expects them.
LATER_MIGRATIONS = ("signed-install", "context-qsh")
METHODS = ("get", "put", "post", "delete", "patch")


PACKAGED = Path(__file__).resolve().parent / "specs"
"""Gzipped copies of the same published files, for a clone with no shared folder beside it."""


def read_spec_file(filename: str, directory: str | None = None) -> Any:
    """A spec file's JSON: from `directory`, else USERSYNC_SPECS_DIR or the shared folder, else
    the packaged copy."""
    folder = Path(directory) if directory else specs_dir()
    path = folder / filename
    if path.is_file():
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    packaged = PACKAGED / f"{filename}.gz"
    if directory is None and packaged.is_file():
        with gzip.open(packaged, "rt", encoding="utf-8") as fh:
            return json.load(fh)
    raise FileNotFoundError(f"Atlassian spec not found at {path}; set USERSYNC_SPECS_DIR")


def specs_dir() -> Path:
    """USERSYNC_SPECS_DIR, else the `shared/specs` folder beside the repository."""
    env = os.environ.get("USERSYNC_SPECS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "specs"


def _prepare(node: Any, base: str) -> Any:
    """Make OpenAPI 3.0 schemas plain JSON Schema: absolute $refs, `nullable` as a null type."""
    if isinstance(node, list):
        return [_prepare(x, base) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _prepare(v, base) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        out["$ref"] = base + ref
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@dataclass
class Operation:
    """One method on one path template of a spec, with its parameters resolved."""

    spec: Spec
    method: str
    template: str
    raw: dict[str, Any]
    parameters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.template}"

    @property
    def connect_scope(self) -> str | None:
        return self.raw.get("x-atlassian-connect-scope")

    @cached_property
    def oauth_scope_sets(self) -> list[set[str]] | None:
        """Alternative sets of OAuth scopes that each suffice; None when the spec names none."""
        sets = [set(s["scopes"]) for s in self.raw.get("x-atlassian-oauth2-scopes", [])
                if s.get("scheme") == "OAuth2"]
        for alternative in self.raw.get("security") or []:
            for scheme, scopes in alternative.items():
                if scheme in ("OAuth2", "oAuthDefinitions"):
                    sets.append(set(scopes))
        return sets or None

    def request_schema(self) -> dict[str, Any] | None:
        body = self.raw.get("requestBody") or {}
        return (body.get("content") or {}).get("application/json", {}).get("schema")

    def response_schema(self, status: int) -> tuple[bool, dict[str, Any] | None]:
        """Whether the status is documented, and the JSON schema of its body if any."""
        responses = self.raw.get("responses", {})
        entry = responses.get(str(status)) or responses.get("default")
        if entry is None:
            return False, None
        return True, (entry.get("content") or {}).get("application/json", {}).get("schema")


class Spec:
    """One OpenAPI document with a path-template index built once."""

    def __init__(self, name: str, document: dict[str, Any]):
        self.name = name
        self.base = f"urn:atlassian-spec:{name}"
        self.document = _prepare(document, self.base)
        self.registry = Registry().with_resource(
            self.base, Resource.from_contents(self.document, default_specification=DRAFT4))
        self._index: dict[tuple[str, int], list[tuple[list[str], Operation]]] = {}
        self._validators: dict[int, Draft4Validator] = {}
        self._checks: dict[int, Check] = {}
        self._compiler = Compiler(lambda ref: self.registry.resolver().lookup(ref).contents,
                                  lambda schema: self.validator(schema).is_valid)
        self._lock = threading.RLock()  # compiling may build fallback validators
        for template, item in self.document.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    self._add(template, method, item[method], shared)
        for entries in self._index.values():
            # literal segments beat placeholders: /group/by-id before /group/{groupName}
            entries.sort(key=lambda e: -sum(not s.startswith("{") for s in e[0]))

    def _add(self, template: str, method: str, raw: dict, shared: list) -> None:
        op = Operation(self, method, template, raw)
        op.parameters = [self.resolve(p) for p in [*shared, *raw.get("parameters", [])]]
        segments = template.strip("/").split("/")
        self._index.setdefault((method, len(segments)), []).append((segments, op))

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.registry.resolver().lookup(node["$ref"]).contents
        return node

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving METHOD PATH and its path parameters, or None."""
        segments = path.strip("/").split("/")
        for template, op in self._index.get((method.lower(), len(segments)), []):
            params = _match(template, segments)
            if params is not None:
                return op, params
        return None

    def validator(self, schema: dict[str, Any]) -> Draft4Validator:
        key = id(schema)  # schemas live as long as the document, so ids are stable
        with self._lock:
            if key not in self._validators:
                self._validators[key] = Draft4Validator(schema, registry=self.registry)
            return self._validators[key]

    def is_valid(self, schema: dict[str, Any], value: Any) -> bool:
        """The compiled fast check (same verdict as jsonschema, a fraction of the cost)."""
        key = id(schema)
        with self._lock:
            if key not in self._checks:
                self._checks[key] = self._compiler.compile(schema)
            check = self._checks[key]
        return check(value)

    def errors(self, schema: dict[str, Any], value: Any) -> list[str]:
        if self.is_valid(schema, value):
            return []
        found = sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"[:500]
                for e in found[:10]]


def _match(template: list[str], segments: list[str]) -> dict[str, str] | None:
    params = {}
    for t, s in zip(template, segments, strict=True):
        if t.startswith("{") and t.endswith("}"):
            if not s:
                return None
            params[t[1:-1]] = s
        elif t != s:
            return None
    return params


@lru_cache(maxsize=8)
def load_spec(name: str, directory: str | None = None) -> Spec:
    """Load and index a spec once per process (the Jira file is 2.4 MB)."""
    return Spec(name, read_spec_file(SPEC_FILES[name], directory))


def spec_for_path(path: str) -> Spec | None:
    """Confluence for /wiki/rest/api, Jira for /rest/api/3, else None."""
    if path.startswith("/wiki/rest/api/"):
        return load_spec("confluence")
    if path.startswith("/rest/api/3/"):
        return load_spec("jira")
    return None


@lru_cache(maxsize=2)
def descriptor_validator(directory: str | None = None) -> Draft4Validator:
    """The Connect descriptor schema, with the migrations newer than it allowed."""
    schema = read_spec_file(DESCRIPTOR_SCHEMA, directory)
    migrations = schema["properties"]["apiMigrations"]["properties"]
    for name in LATER_MIGRATIONS:
        migrations[name] = {"type": "boolean"}
    return Draft4Validator(schema)


def descriptor_problems(descriptor: dict[str, Any]) -> list[str]:
    """Why a Connect descriptor would be refused at install; empty when it is fine."""
    found = descriptor_validator().iter_errors(descriptor)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"[:300]
            for e in sorted(found, key=lambda e: list(e.absolute_path))[:10]]
