"""The admin side: the JSON admin API under /api/admin/ and the admin page that uses it."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.admin import errors, pages
    from app.admin.api import bp
    from app.admin.views import (  # noqa: F401  (each module registers its routes on bp)
        behaviour,
        connections,
        credential,
        docs,
        overview,
        pickers,
        runs,
        scim_tokens,
        session,
        webhooks,
    )

    app.register_blueprint(bp)
    app.register_blueprint(pages.bp)
    errors.init_app(app)
