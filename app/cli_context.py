"""What every `usersync` command starts from: the settings, read once, and the bound database.

Run as the `usersync` console script, a command reads the environment once per invocation
(kept on click's root context). Run through the Flask app's CLI (`app.cli`, `flask --app
app usersync ...`, or a test's `app.test_cli_runner()`), it uses that app's config: the
settings `create_app` read, with a test's overrides, and no environment variable at all.
"""

from __future__ import annotations

from typing import Any

import click
from flask import current_app, has_app_context

from app import config as app_config
from app import extensions

_KEY = "usersync.settings"


def settings() -> dict[str, Any]:
    """The Flask config dict of this command (see app.config.load); a ClickException that
    names the bad setting when the environment is wrong."""
    if has_app_context():
        return current_app.config  # type: ignore[return-value]
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is not None and _KEY in root.meta:
        return root.meta[_KEY]
    try:
        cfg = app_config.load()
    except app_config.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if root is not None:
        root.meta[_KEY] = cfg
    return cfg


def configured() -> dict[str, Any]:
    """`settings()`, with the database and key ring bound to them (an app has done it already)."""
    cfg = settings()
    if not has_app_context():
        extensions.configure(cfg)
    return cfg
