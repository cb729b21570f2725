"""Forge front door: Forge Invocation Token checks, the lifecycle, scheduled-trigger and
pre-uninstall endpoints, and the app system token the reads use."""

from __future__ import annotations

from flask import Flask

from app.forge.routes import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
