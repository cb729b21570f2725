"""What the invoker reads from a Forge manifest: endpoints, triggers, pages and scopes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "manifest" / "manifest.yml"


class ManifestError(ValueError):
    """The manifest lacks something the invoker needs."""


@dataclass(frozen=True)
class Endpoint:
    key: str
    route: str | None
    system_token: bool
    user_token: bool


@dataclass(frozen=True)
class AppManifest:
    app_id: str
    description: str
    connect_key: str | None
    endpoints: dict[str, Endpoint]
    scheduled: tuple[tuple[str, str, str], ...]  # (module key, endpoint key, interval)
    events: tuple[tuple[str, str, tuple[str, ...]], ...]  # (module key, endpoint, events)
    pre_uninstall: tuple[tuple[str, str], ...]
    pages: dict[str, tuple[str, str]]  # module key -> (module type, resolver endpoint)
    scopes: tuple[str, ...]

    def endpoint(self, key: str) -> Endpoint:
        if key not in self.endpoints:
            raise ManifestError(f"no endpoint module with key {key!r}")
        return self.endpoints[key]


def load(path: str | Path = DEFAULT_MANIFEST) -> AppManifest:
    return parse(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def parse(doc: dict[str, Any]) -> AppManifest:
    try:
        app, modules = doc["app"], doc["modules"]
        endpoints = {}
        for e in modules.get("endpoint", []):
            auth = e.get("auth") or {}
            endpoints[e["key"]] = Endpoint(
                e["key"], (e.get("route") or {}).get("path"),
                bool((auth.get("appSystemToken") or {}).get("enabled")),
                bool((auth.get("appUserToken") or {}).get("enabled")))
        pages = {}
        for kind in ("jira:adminPage", "confluence:globalSettings"):
            for page in modules.get(kind, []):
                pages[page["key"]] = (kind, (page.get("resolver") or {}).get("endpoint", ""))
        return AppManifest(
            app_id=app["id"], description=app.get("description", ""),
            connect_key=(app.get("connect") or {}).get("key"), endpoints=endpoints,
            scheduled=tuple((t["key"], t["endpoint"], t["interval"])
                            for t in modules.get("scheduledTrigger", []) if "endpoint" in t),
            events=tuple((t["key"], t["endpoint"], tuple(t["events"]))
                         for t in modules.get("trigger", []) if "endpoint" in t),
            pre_uninstall=tuple((t["key"], t["endpoint"])
                                for t in modules.get("preUninstall", []) if "endpoint" in t),
            pages=pages, scopes=tuple((doc.get("permissions") or {}).get("scopes") or ()))
    except (KeyError, TypeError) as exc:
        raise ManifestError(f"the manifest lacks {exc}") from exc
