"""Connect front door: the descriptor, the signed lifecycle, and JWT-guarded product routes."""

from __future__ import annotations

from flask import Flask

from app.connect.routes import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
