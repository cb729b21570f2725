"""`usersync scim-token`: issue, list and revoke the bearer tokens of a SCIM connection."""

from __future__ import annotations

import click

from app import cli_context, extensions
from app.scim import tokens


def _database() -> None:
    cli_context.configured()


def _base_url() -> str:
    return cli_context.settings()["BASE_URL"]


@click.group("scim-token")
def scim_token() -> None:
    """Bearer tokens for IdPs that push over SCIM (Entra, Okta)."""


@scim_token.command("create")
@click.argument("connection_id", type=int)
def create(connection_id: int) -> None:
    """Print the connection's SCIM base URL and a new token (shown only this once)."""
    _database()
    try:
        with extensions.db.session() as session:
            issued = tokens.create(session, connection_id)
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{_base_url()}{issued.base_path}")
    click.echo(issued.secret)


@scim_token.command("list")
@click.argument("connection_id", type=int)
def list_tokens(connection_id: int) -> None:
    """One line per token: id, first characters, created, last used, revoked."""
    _database()
    with extensions.db.session() as session:
        for t in tokens.tokens(session, connection_id):
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            click.echo(f"{t.id}\t{t.hint}…\tcreated {t.created_at:%Y-%m-%d %H:%M}\t"
                       f"last used {used}\t{state}")


@scim_token.command("revoke")
@click.argument("connection_id", type=int)
@click.argument("token")
def revoke(connection_id: int, token: str) -> None:
    """Revoke TOKEN (its id from `list`, the token itself, or `all`)."""
    _database()
    try:
        with extensions.db.session() as session:
            revoked = tokens.revoke(session, connection_id, token)
    except tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {len(revoked)} token(s): {', '.join(map(str, revoked))}")
