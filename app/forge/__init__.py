"""Forge front door: Forge Invocation Token checks, the lifecycle, scheduled-trigger and
pre-uninstall endpoints, and the app system token the reads use."""

from __future__ import annotations

from flask import Flask

from app.forge.routes import bp


def init_app(app: Flask) -> None:
    from app.admin import caller
    from app.forge.caller import forge_caller

    app.register_blueprint(bp)
    if forge_caller not in caller.bearer_resolvers:  # Bearer <FIT> on the admin API
        caller.bearer_resolvers.append(forge_caller)
