"""Operator commands: connections, syncs, held plans and write credentials."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from app import cli_context, extensions
from workers.vocabulary import RunStatus, Trigger

WAIT_TIMEOUT = 3600


_setup = cli_context.configured


def _json_arg(value: str | None, what: str) -> dict[str, Any]:
    """A JSON object given inline or as @path."""
    if not value:
        return {}
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"{what}: cannot read {value[1:]!r} "
                                     f"({exc.strerror or type(exc).__name__})") from None
        except UnicodeDecodeError:
            raise click.BadParameter(f"{what}: {value[1:]!r} is not UTF-8 text") from None
    else:
        text = value
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return data


class KindOption(click.Option):
    """--kind, whose help lists every kind the source registry knows (read when help is shown)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from workers.sources import registry

        self.help = "Source kind, one of: " + "; ".join(
            f"{kind} ({registry.get(kind).label})" for kind in registry.kinds()) + "."
        return super().get_help_record(ctx)


@click.group()
def connections() -> None:
    """IdP connections of installed sites."""


@connections.command("add")
@click.option("--client-key", required=True, help="The site's Connect client key.")
@click.option("--kind", required=True, cls=KindOption)
@click.option("--name", required=True)
@click.option("--settings", "settings_arg", required=True, help="JSON object or @file.")
@click.option("--mapping", "mapping_arg", default=None, help="JSON object or @file.")
def connections_add(client_key: str, kind: str, name: str, settings_arg: str, mapping_arg: str | None) -> None:
    """Add a connection; prints its id."""
    from app.connections import ConnectionInvalid, create

    _setup()
    try:
        with extensions.db.session() as session:
            conn = create(session, client_key=client_key, kind=kind, name=name,
                          settings=_json_arg(settings_arg, "--settings"),
                          mapping=_json_arg(mapping_arg, "--mapping"),
                          encrypt=extensions.secrets.encrypt)
            click.echo(conn.id)
    except ConnectionInvalid as exc:
        raise click.ClickException(str(exc)) from exc


@connections.command("list")
def connections_list() -> None:
    """One JSON line per connection (no secrets)."""
    from app.connections import describe
    from app.models import Connection

    _setup()
    with extensions.db.session() as session:
        for conn in session.scalars(select(Connection).order_by(Connection.id)):
            click.echo(json.dumps(describe(conn)))


@connections.command("test")
@click.argument("connection_id", type=int)
def connections_test(connection_id: int) -> None:
    """Check that the IdP answers with these settings; says exactly what is wrong if not."""
    from app.models import Connection
    from workers.sources.base import ConnectionCheck, SourceError
    from workers.sync.engine import make_source

    cfg = _setup()
    with extensions.db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None:
            raise click.ClickException(f"connection {connection_id} does not exist")
        try:
            source = make_source(conn, extensions.secrets.decrypt, cfg["ALLOW_PRIVATE_URLS"])
            check = source.test_connection()
        except SourceError as exc:
            check = ConnectionCheck.failed(exc)
    click.echo(("ok: " if check.ok else f"failed ({check.reason}): ") + check.message)
    if not check.ok:
        raise SystemExit(1)


def _set_enabled(connection_id: int, enabled: bool) -> None:
    from app.models import Connection

    _setup()
    with extensions.db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None:
            raise click.ClickException(f"connection {connection_id} does not exist")
        conn.enabled = enabled
        still = conn.inactive_reason()
    if not enabled:
        click.echo(f"connection {connection_id} disabled: no trigger runs it until it is enabled")
    elif still:
        click.echo(f"connection {connection_id} enabled, but nothing runs yet: {still}")
    else:
        click.echo(f"connection {connection_id} enabled")


@connections.command("disable")
@click.argument("connection_id", type=int)
def connections_disable(connection_id: int) -> None:
    """Stop every sync of a connection (schedule, pushes, webhooks, Sync now) until enabled."""
    _set_enabled(connection_id, False)


@connections.command("enable")
@click.argument("connection_id", type=int)
def connections_enable(connection_id: int) -> None:
    """Let a disabled connection sync again."""
    _set_enabled(connection_id, True)


@click.command("sync")
@click.argument("connection_id", type=int)
@click.option("--dry-run", is_flag=True, help="Plan and guard only; store the preview.")
@click.option("--wait", is_flag=True, help="Wait for the worker and print the result.")
@click.option("--reconcile", is_flag=True,
              help="Read every managed group from the site first (drift reconcile).")
def sync(connection_id: int, dry_run: bool, wait: bool, reconcile: bool = False) -> None:
    """Enqueue a sync (coalesced with any waiting one)."""
    from app.models import Connection
    from workers.queue import NotInstalled, enqueue_sync, fetch_job

    cfg = _setup()
    with extensions.db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None:
            raise click.ClickException(f"connection {connection_id} does not exist")
        inactive = conn.inactive_reason()
        if reconcile and not inactive:  # due now, whichever waiting job runs next
            conn.reconciled_at = None
    if inactive:
        hint = f" (usersync connections enable {connection_id})" if "disabled" in inactive else ""
        raise click.ClickException(f"not synced: {inactive}{hint}")
    redis = extensions.redis(cfg)
    try:
        job_id = enqueue_sync(redis, connection_id,
                              Trigger.RECONCILE if reconcile else Trigger.MANUAL, dry_run)
    except NotInstalled as exc:
        raise click.ClickException(str(exc)) from None
    if not wait:
        click.echo(job_id)
        return
    job = fetch_job(redis, job_id)
    deadline = time.monotonic() + WAIT_TIMEOUT
    while job.get_status(refresh=True) not in ("finished", "failed", "stopped", "canceled"):
        if time.monotonic() > deadline:
            raise click.ClickException(f"job {job_id} did not finish in time")
        time.sleep(0.5)
    _print_run(job_id, job.return_value())


def _print_run(job_id: str, result: Any = None) -> None:
    from app.models import SyncRun
    from workers.sync import plan_store

    with extensions.db.session() as session:
        run = session.scalars(select(SyncRun).where(SyncRun.job_id == job_id)).first()
        if run is None:
            if isinstance(result, dict) and result.get("status") == "skipped":
                raise click.ClickException(f"not synced: {result.get('reason')}")
            raise click.ClickException(f"job {job_id} ended without a run record (see the worker log)")
        plan = plan_store.head(run.plan) if run.plan else {}
        groups = plan.get("groups", {})
        click.echo(json.dumps({"run_id": run.id, "status": run.status, "reason": run.reason,
                               "error": run.error, "summary": plan.get("summary", {}),
                               "groups_adopted": groups.get("adopted", []),
                               "groups_skipped": groups.get("skipped", []),
                               "invite_domains": plan.get("invite_domains"),
                               "counts": run.counts}, indent=2))
        if run.status == RunStatus.FAILED:
            raise SystemExit(1)


@click.group()
def runs() -> None:
    """Held plans: approve or discard."""


@runs.command("approve")
@click.argument("run_id", type=int)
@click.option("--by", default="operator", help="Who approves (recorded).")
def runs_approve(run_id: int, by: str) -> None:
    from app.models import Connection, SyncRun
    from workers.queue import enqueue_approval

    cfg = _setup()
    with extensions.db.session() as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != RunStatus.HELD:
            raise click.ClickException(f"run {run_id} is not waiting for approval")
        cid = run.connection_id
        conn = session.get(Connection, cid)
        inactive = conn.inactive_reason() if conn is not None else "its connection is gone"
        if inactive:
            raise click.ClickException(f"run {run_id} stays held: {inactive}")
    click.echo(enqueue_approval(extensions.redis(cfg), run_id, cid, by))


@runs.command("discard")
@click.argument("run_id", type=int)
@click.option("--by", default="operator")
def runs_discard(run_id: int, by: str) -> None:
    from workers.sync.engine import RunFailed, discard_held

    _setup()
    try:
        discard_held(extensions.db, run_id, by)
    except RunFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"run {run_id} discarded")


@click.group()
def credentials() -> None:
    """Write credentials a site admin hands over (API token, org API key)."""


@credentials.command("api-token")
@click.option("--client-key", required=True)
@click.option("--email", required=True, help="The site admin's e-mail.")
@click.option("--token", required=True, prompt=True, hide_input=True)
def credentials_api_token(client_key: str, email: str, token: str) -> None:
    from app.models.credential import CredentialKind

    _save_credential(client_key, CredentialKind.API_TOKEN, {"email": email, "api_token": token})


@credentials.command("org-key")
@click.option("--client-key", required=True)
@click.option("--org-id", required=True)
@click.option("--key", required=True, prompt=True, hide_input=True)
@click.option("--writes/--no-writes", default=None,
              help="Write groups, members and invites through the organization API even when "
                   "a product write credential is connected (--writes) or never (--no-writes); "
                   "by default only when none is.")
def credentials_org_key(client_key: str, org_id: str, key: str, writes: bool | None) -> None:
    from app.models.credential import CredentialKind

    material: dict[str, Any] = {"org_id": org_id, "api_key": key}
    if writes is not None:
        material["writes"] = writes
    _save_credential(client_key, CredentialKind.ORG_API_KEY, material)


def _save_credential(client_key: str, kind, material: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    from app.connect.tenancy import by_client_key
    from workers.atlassian.credentials import save_credential

    _setup()
    with extensions.db.session() as session:
        inst = by_client_key(session, client_key)
        if inst is None:
            raise click.ClickException(f"no installed site has client key {client_key!r}")
        iid = inst.id
    save_credential(extensions.db, iid, kind, material, extensions.secrets.encrypt)
    click.echo(f"{kind.value} stored (encrypted) for {client_key}")


def register(main: click.Group) -> None:
    from app.connect.cli import installations
    from app.scim.cli import scim_token

    for command in (connections, sync, runs, credentials, scim_token, installations):
        main.add_command(command)
