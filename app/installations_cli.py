"""`usersync installations list`: the sites that installed the app, and their client keys."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from app import cli_context, extensions

COLUMNS = ("client_key", "product", "site_url", "state", "kind")


def describe(inst: Any) -> dict[str, str]:
    """One installation as the operator sees it: never its shared secret."""
    kind = getattr(inst, "kind", None)  # Connect unless the installation model says otherwise
    return {"client_key": inst.client_key, "product": inst.product_type,
            "site_url": inst.base_url, "state": str(getattr(inst.state, "value", inst.state)),
            "kind": str(getattr(kind, "value", kind) or "connect")}


def table(rows: list[dict[str, str]]) -> str:
    """Left-aligned columns under a header, two spaces apart."""
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return "\n".join(lines)


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def installations_list(as_json: bool) -> None:
    """Client key, product, site URL, state and kind of every installation, oldest first."""
    from app.models import Installation

    cli_context.configured()
    with extensions.db.session() as session:
        rows = [describe(i) for i in session.scalars(select(Installation).order_by(Installation.id))]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
    elif rows:
        click.echo(table(rows))
    else:
        click.echo("no site has installed the app yet")
