"""A run's figures, typed; stored as SyncRun.counts under the JSON keys the admin API reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Drift:
    """What a reconcile found on the site that our mirror did not know (manual changes)."""

    added: int = 0
    """Memberships on the site the mirror did not have (someone added a member by hand)."""
    removed: int = 0
    """Memberships the mirror had that the site no longer has."""
    groups_gone: int = 0
    """Managed groups that no longer exist on the site."""
    examples: list[str] = field(default_factory=list)
    """A few of them in words, for the run page."""

    @property
    def total(self) -> int:
        return self.added + self.removed + self.groups_gone

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "groups_gone": self.groups_gone,
                "total": self.total, "examples": list(self.examples)}


@dataclass(slots=True)
class RunCounts:
    """Everything a run counts. `stats` are the plan's figures (desired_users and friends),
    kept flat in the stored form because earlier runs stored them so."""

    fetch: str | None = None
    basis: str | None = None
    """Fingerprint of the mapping and policy the plan was made with."""
    planning: str | None = None
    """full | incremental | targeted | unchanged: how the plan was made."""
    site_reads: str | None = None
    """mirror | reconcile: where the members of the managed groups came from."""
    idp_groups: int | None = None
    stats: dict[str, int] = field(default_factory=dict)
    planned: dict[str, int] | None = None
    drift: Drift | None = None
    scope: dict[str, list[str]] | None = None
    applied: int | None = None
    failed: int | None = None
    skipped: int | None = None
    applied_by_kind: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.stats)
        for name in ("fetch", "basis", "planning", "site_reads", "idp_groups", "planned", "scope",
                     "applied", "failed", "skipped", "applied_by_kind"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.drift is not None:
            out["drift"] = self.drift.to_json()
        return out

    @property
    def converged(self) -> bool:
        """Every planned op was applied: the site matches what the plan wanted."""
        return not self.failed and not self.skipped
