"""`usersync sandbox`: change the sandbox IdP that `usersync run` started, to watch a sync carry it."""

from __future__ import annotations

from typing import Any

import click
import requests

from app import cli_context


def _call(sandbox_port: int, method: str, path: str, body: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    from app import devserver

    settings = cli_context.settings()
    token = devserver.sandbox_secrets(settings["INSTANCE_PATH"])["idp-token"]
    url = f"http://127.0.0.1:{devserver.idp_port(sandbox_port)}/sandbox/{path}"
    try:
        answer = requests.request(method, url, json=body, timeout=10,
                                  headers={"Authorization": f"Bearer {token}"})
    except requests.ConnectionError:
        raise click.ClickException(f"the sandbox IdP is not running at {url}: start "
                                   f"`usersync run` first (same --sandbox-port)") from None
    data = answer.json() if answer.headers.get("Content-Type", "").startswith("application/") else {}
    if answer.status_code >= 300:
        raise click.ClickException(str(data.get("error") or data.get("detail") or answer.text[:200]))
    return data


port_option = click.option("--sandbox-port", type=int, default=8090, show_default=True,
                           help="The sandbox site's port given to `usersync run`.")


@click.group()
def sandbox() -> None:
    """The sandbox IdP of `usersync run`: make people leave or join; the next sync shows it."""


@sandbox.command("leave")
@click.argument("email")
@port_option
def leave(email: str, sandbox_port: int) -> None:
    """EMAIL leaves the company: deactivated in the IdP."""
    answer = _call(sandbox_port, "POST", "leave", {"email": email})
    click.echo(f"{email} is deactivated in the sandbox IdP; " + _when(answer, "removes them from "
               "the synced groups"))


@sandbox.command("join")
@click.argument("email")
@click.argument("group")
@port_option
def join(email: str, group: str, sandbox_port: int) -> None:
    """EMAIL joins GROUP (and is active again)."""
    answer = _call(sandbox_port, "POST", "join", {"email": email, "group": group})
    click.echo(f"{email} joined {group} in the sandbox IdP; " + _when(answer, "adds them in "
               "Atlassian"))


def _when(answer: dict[str, Any], what: str) -> str:
    if answer.get("webhook"):
        return f"its signed webhook told the app, whose sync {what} within seconds"
    return f"the next scheduled sync (within five minutes) {what}"


@sandbox.command("status")
@port_option
def status(sandbox_port: int) -> None:
    """How many people and groups the sandbox IdP holds."""
    s = _call(sandbox_port, "GET", "summary")
    click.echo(f"{s['people']} people ({s['inactive']} deactivated), {s['groups']} groups "
               f"({s['nested']} nested in a department)")
