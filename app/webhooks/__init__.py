"""IdP webhooks (Okta, Microsoft Graph, Google, Keycloak, Standard Webhooks) → pending set → run."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.webhooks.routes import bp

    app.register_blueprint(bp)
