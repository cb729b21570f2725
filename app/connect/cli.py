"""`usersync installations …`: confirm a moved baseUrl, purge uninstalled sites' data."""

from __future__ import annotations

import click

from app import cli_context, extensions

_setup = cli_context.configured


@click.group()
def installations() -> None:
    """Sites that installed the app."""


@installations.command("confirm-url")
@click.argument("client_key")
def confirm_url(client_key: str) -> None:
    """Let the stored write credentials follow the site's current baseUrl (after a rename)."""
    from app.connect.tenancy import by_client_key

    _setup()
    with extensions.db.session() as session:
        inst = by_client_key(session, client_key, lock=True)
        if inst is None:
            raise click.ClickException(f"no installed site has client key {client_key!r}")
        if inst.base_url_confirmed:
            click.echo(f"{inst.base_url} is already confirmed for {client_key}")
            return
        previous, inst.confirmed_base_url = inst.confirmed_base_url, inst.base_url
        click.echo(f"confirmed {inst.base_url} for {client_key} (was {previous}); "
                   "write credentials are used there from now on")


@installations.command("purge-uninstalled")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="Retention in days (default: USERSYNC_UNINSTALLED_RETENTION_DAYS).")
def purge_uninstalled(days: int | None) -> None:
    """Delete the data of sites uninstalled longer ago than the retention period."""
    from workers.retention import purge_uninstalled as purge

    cfg = _setup()
    retention = cfg["UNINSTALLED_RETENTION_DAYS"] if days is None else days
    with extensions.db.session() as session:
        purged = purge(session, retention)
    click.echo(f"purged {len(purged)} installation(s) uninstalled over {retention} days ago"
               + (": " + ", ".join(purged) if purged else ""))
