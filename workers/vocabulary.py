"""The named words of a sync: run status, op kind, trigger and op outcome.

Each is a `StrEnum`, so a member *is* its string: what the database stores and the admin
API sends stays exactly the same word, and comparisons with stored strings keep working.
Pure (no imports from the product): the web side and the workers both use it.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a SyncRun is: `running` until it ends in one of the others."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """Every op of the plan was applied."""
    PARTIALLY_FAILED = "partially_failed"
    """Some ops applied, some failed or were skipped (their Change rows say why)."""
    FAILED = "failed"
    """Nothing applied: the IdP, the site, the settings or the credential failed the run."""
    HELD = "held"
    """The guard held the plan (mass removal, admin groups) until an admin approves it."""
    ABORTED = "aborted"
    """The guard refused the plan (an incomplete IdP read): nothing was applied."""
    PREVIEW = "preview"
    """A dry run: the plan was stored for the admin page, nothing applied."""
    DISCARDED = "discarded"
    """A held plan an admin threw away."""
    DEFERRED = "deferred"
    """Stopped by Atlassian's hourly quota: the rest runs when it resets."""

    @property
    def applied(self) -> bool:
        """The run changed the site as planned (it counts as the connection's last run)."""
        return self in (RunStatus.SUCCEEDED, RunStatus.PARTIALLY_FAILED)


class OpKind(StrEnum):
    """One kind of operation on the Atlassian site (see `workers.sync.plan` for each)."""

    CREATE_GROUP = "create_group"
    LINK_GROUP = "link_group"
    LINK_USER = "link_user"
    INVITE_USER = "invite_user"
    RESTORE_ACCESS = "restore_access"
    ADD_MEMBER = "add_member"
    REMOVE_MEMBER = "remove_member"
    SUSPEND_ACCESS = "suspend_access"


class Trigger(StrEnum):
    """What started a run (stored on SyncRun, shown in the admin page)."""

    MANUAL = "manual"
    """"Sync now" or "Preview" in the admin page, or `usersync sync`."""
    SCHEDULE = "schedule"
    """The connection's schedule came due (the cron tick or Forge's scheduled trigger)."""
    PUSH = "push"
    """An IdP pushed changes over SCIM."""
    WEBHOOK = "webhook"
    """An IdP or Atlassian webhook named a change."""
    RECONCILE = "reconcile"
    """The daily drift reconcile re-read the site."""
    APPROVAL = "approval"
    """An admin approved a held plan."""


class Outcome(StrEnum):
    """What happened to one op of a run (its Change row)."""

    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"
