"""`usersync secrets rotate`: every stored secret re-encrypted under the first key."""

from __future__ import annotations

import click

from app import cli_context, extensions


@click.group()
def secrets() -> None:
    """Secrets at rest (USERSYNC_SECRET_KEYS)."""


@secrets.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored secret under the first key; then the other keys can be removed."""
    from app.secret_rotation import rotate_all

    cfg = cli_context.configured()
    report = rotate_all(extensions.db, extensions.secrets.ring)
    counts = ", ".join(f"{name} {n}" for name, n in report.rotated.items())
    click.echo(f"re-encrypted {report.total} secret(s) under the first key ({counts})")
    if report.changed_meanwhile:
        click.echo(f"{report.changed_meanwhile} secret(s) were rewritten by the service meanwhile "
                   f"(already under the first key)")
    if report.unreadable:
        names = "; ".join(str(u) for u in report.unreadable)
        raise click.ClickException(
            f"{len(report.unreadable)} secret(s) cannot be decrypted with any key and were left "
            f"as they are: {names}. Keep the old keys until these are restored or re-entered.")
    if len(cfg["SECRET_KEYS"]) > 1:
        click.echo("every readable secret is now under the first key: the other keys in "
                   "USERSYNC_SECRET_KEYS can be removed")
