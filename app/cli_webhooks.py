"""`usersync webhooks show|rotate|subscribe CONNECTION_ID`: a connection's webhook URL and secret."""

from __future__ import annotations

import json

import click

from app import config as app_config
from app import extensions
from app.models import Connection
from app.webhooks import endpoints


def _settings() -> dict:
    try:
        settings = app_config.load()
    except app_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    extensions.configure(settings)
    return settings


def _describe(connection_id: int, rotate: bool) -> dict:
    settings = _settings()
    with extensions.db.session() as session:
        conn = session.get(Connection, connection_id)
        if conn is None or conn.deleted_at is not None:
            raise click.ClickException(f"no connection {connection_id}")
        try:
            make = endpoints.rotate if rotate else endpoints.ensure
            endpoint = make(session, conn, extensions.secrets.encrypt)
        except endpoints.NoWebhook as exc:
            raise click.ClickException(str(exc)) from exc
        secret = extensions.secrets.decrypt(endpoint.secret_encrypted)
        return endpoints.describe(conn, endpoint, secret, settings["BASE_URL"],
                                  endpoints.subscriptions(session, conn))


@click.group("webhooks")
def webhooks() -> None:
    """The webhook URL and secret an IdP uses to tell this service of a change."""


@webhooks.command("show")
@click.argument("connection_id", type=int)
def show(connection_id: int) -> None:
    """Print the connection's webhook (JSON: url, secret, kind, format, setup steps)."""
    click.echo(json.dumps(_describe(connection_id, rotate=False), indent=2, default=str))


@webhooks.command("rotate")
@click.argument("connection_id", type=int)
def rotate(connection_id: int) -> None:
    """Replace the URL and secret (the old ones stop at once: register the new ones at the IdP).

    Entra and Google subscriptions point at the old URL: they are replaced here and now."""
    answer = _describe(connection_id, rotate=True)
    if answer["subscriptions"] is not None:
        answer["subscriptions_replaced"] = _ensure_subscriptions(connection_id)
    click.echo(json.dumps(answer, indent=2, default=str))


@webhooks.command("subscribe")
@click.argument("connection_id", type=int)
def subscribe(connection_id: int) -> None:
    """Create or renew the IdP's push subscriptions now (Entra: Graph; Google: watch channels)."""
    _describe(connection_id, rotate=False)  # the webhook URL the subscriptions point to
    click.echo(json.dumps(_ensure_subscriptions(connection_id), indent=2, default=str))


def _ensure_subscriptions(connection_id: int) -> dict:
    settings = _settings()
    from workers import subscriptions

    try:
        return subscriptions.ensure(extensions.db, connection_id, settings)
    except subscriptions.SubscriptionError as exc:
        raise click.ClickException(str(exc)) from exc
