"""The web side: `create_app()` builds the Flask app from the environment or a test config."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import config as app_config
from app import crypto, extensions, logs


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `test_config` overrides environment settings (same keys as config.load)."""
    app = Flask(__name__, instance_relative_config=False)
    settings = app_config.load(instance_path=app.instance_path)
    if test_config:
        settings.update(test_config)
    app.config.update(settings)
    logs.init_app(app)
    crypto.init_app(app)
    app.config["SETTINGS"] = extensions.configure(app.config)  # the typed object, read once

    from app import admin, cli, connect, forge, health, limits, scim, webhooks

    limits.init_app(app)
    health.init_app(app)
    connect.init_app(app)
    forge.init_app(app)
    scim.init_app(app)
    admin.init_app(app)
    cli.init_app(app)
    webhooks.init_app(app)
    return app
