"""SCIM 2.0 server: IdPs push users and groups into our tables, one endpoint per connection."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.scim import views  # noqa: F401  (registers the resource routes on the blueprint)
    from app.scim.routes import bp

    app.register_blueprint(bp)
