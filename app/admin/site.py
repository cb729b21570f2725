"""The Atlassian client as the web side uses it: the installation's site, short retries."""

from __future__ import annotations

from dataclasses import replace

from flask import current_app

from app import extensions
from workers.atlassian.factory import ClientSettings, site_for_installation
from workers.atlassian.http import Transport
from workers.atlassian.site import AtlassianSite
from workers.backoff import BackoffPolicy

# A page waits on these calls: retry a little, never for the minutes a worker may wait.
WEB_BACKOFF = BackoffPolicy(initial=0.2, cap=1.0, max_retries=2, max_retry_after=2.0)
WEB_TIMEOUT = (3.0, 10.0)


def client_settings() -> ClientSettings:
    """The same client settings the worker builds, with the config's one private-URL rule."""
    configured = current_app.config.get("ATLASSIAN_CLIENT")
    base = (configured if isinstance(configured, ClientSettings)
            else ClientSettings.from_settings(current_app.config["SETTINGS"]))
    return replace(base, app_key=current_app.config.get("APP_KEY", base.app_key),
                   allow_private=bool(current_app.config.get("ALLOW_PRIVATE_URLS")))


def web_transport() -> Transport:
    return Transport(policy=WEB_BACKOFF, timeout=WEB_TIMEOUT,
                     allow_private=bool(current_app.config.get("ALLOW_PRIVATE_URLS")))


def site_for(installation_id: int, prefer_connect: bool = False) -> AtlassianSite:
    return site_for_installation(installation_id, db=extensions.db, settings=client_settings(),
                                 encrypt=extensions.secrets.encrypt,
                                 decrypt=extensions.secrets.decrypt, transport=web_transport(),
                                 prefer_connect=prefer_connect)
