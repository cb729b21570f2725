"""Installations as the Connect routes see them: save a verified install, find a tenant's secret."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import AtlassianCredential, Connection, Installation, InstallationState, ScimToken

log = logging.getLogger(__name__)

PRODUCT_TYPES = {"jira", "confluence"}
SIGNED_INSTALL_EVENTS = ("installed", "uninstalled")


class BadInstallPayload(ValueError):
    """The verified lifecycle body lacks a field we need, or names a baseUrl we refuse."""


class StaleInstall(ValueError):
    """The token was issued before the install we hold: an old (replayed) lifecycle call."""


def check_base_url(base_url: str, domains: Sequence[str] | None) -> None:
    """`domains` None accepts any URL (development); else https on one of these host suffixes."""
    parts = urlsplit(base_url)
    if not parts.scheme or not parts.hostname:
        raise BadInstallPayload(f"the installed payload's baseUrl {base_url!r} is not a URL")
    if domains is None:
        return
    host = parts.hostname.lower()
    if (parts.scheme != "https" or parts.username or parts.password or parts.port not in (None, 443)
            or not any(host.endswith(suffix) and len(host) > len(suffix) for suffix in domains)):
        raise BadInstallPayload(
            f"the installed payload's baseUrl {base_url!r} is not https on an Atlassian domain "
            f"({', '.join(domains)}); see USERSYNC_ATLASSIAN_DOMAINS")


def check_not_stale(session: Session, client_key: str, iat: int) -> None:
    """Refuse an install/uninstall token older than the install we already hold."""
    inst = by_client_key(session, client_key)
    if inst is not None and inst.install_iat is not None and iat < inst.install_iat:
        raise StaleInstall("the token was issued before the installation this app holds")


def save_install(session: Session, payload: dict[str, Any], encrypt, *,  # type: ignore[no-untyped-def]
                 iat: int | None = None, domains: Sequence[str] | None = None) -> Installation:
    """Create or overwrite the installation of a verified `installed` call (new secret each time).

    A changed baseUrl is stored (API calls must follow a renamed site) but not confirmed: the
    stored write credentials are not sent there until an admin runs
    `usersync installations confirm-url`.
    """
    for field in ("clientKey", "sharedSecret", "baseUrl", "productType"):
        if not isinstance(payload.get(field), str) or not payload[field]:
            raise BadInstallPayload(f"the installed payload has no {field}")
    product = payload["productType"].lower()
    if product not in PRODUCT_TYPES:
        raise BadInstallPayload(f"unsupported productType {payload['productType']!r}")
    base_url = payload["baseUrl"].rstrip("/")
    check_base_url(base_url, domains)
    if len(base_url) > 255:
        raise BadInstallPayload("the installed payload's baseUrl is longer than 255 characters")
    inst = by_client_key(session, payload["clientKey"], lock=True)
    if inst is None:
        inst = Installation(client_key=payload["clientKey"], confirmed_base_url=base_url)
        session.add(inst)
    elif inst.base_url != base_url:
        log.warning("installation %s moved from %s to %s; write credentials wait for an admin "
                    "to confirm the new baseUrl", inst.client_key, inst.base_url, base_url)
    inst.product_type = product
    inst.base_url = base_url
    inst.install_iat = iat
    inst.display_url = _text(payload.get("displayUrl"))
    inst.description = _text(payload.get("description"))
    inst.shared_secret_encrypted = encrypt(payload["sharedSecret"])
    # the Forge door adopts a Connect installation by this id (Connect-to-Forge migration)
    inst.cloud_id = payload.get("cloudId") if isinstance(payload.get("cloudId"), str) else inst.cloud_id
    inst.state = InstallationState.ENABLED
    inst.uninstalled_at = None
    session.flush()
    return inst


def set_state(session: Session, client_key: str, event: str) -> Installation | None:
    """Apply enabled/disabled/uninstalled; repeated or out-of-order events leave a consistent state.

    Once uninstalled, only a new signed `installed` revives the installation: a late
    `disabled` or `enabled` arriving after `uninstalled` changes nothing.
    """
    inst = by_client_key(session, client_key, lock=True)
    if inst is None:
        log.info("lifecycle %s for unknown client key; nothing to do", event)
        return None
    if event == "uninstalled":
        if inst.state != InstallationState.UNINSTALLED:
            inst.state = InstallationState.UNINSTALLED
            inst.uninstalled_at = datetime.now(UTC)
        forget_credentials(session, inst.id)
    elif inst.state == InstallationState.UNINSTALLED:
        log.info("lifecycle %s after uninstall ignored", event)
    elif event == "disabled":
        inst.state = InstallationState.DISABLED
    elif event == "enabled":
        inst.state = InstallationState.ENABLED
    return inst


def forget_credentials(session: Session, installation_id: int) -> None:
    """Uninstall: the site admin's write credentials and the SCIM bearer tokens go at once;
    the rest of the tenant's data waits out the retention period (see `retention`)."""
    session.execute(delete(AtlassianCredential)
                    .where(AtlassianCredential.installation_id == installation_id)
                    .execution_options(synchronize_session=False))
    connections = select(Connection.id).where(Connection.installation_id == installation_id)
    session.execute(delete(ScimToken).where(ScimToken.connection_id.in_(connections))
                    .execution_options(synchronize_session=False))


def _text(value: Any) -> str | None:
    """An optional display field: a string of at most 255 characters, else nothing."""
    return value[:255] if isinstance(value, str) and value else None


def by_client_key(session: Session, client_key: str, lock: bool = False) -> Installation | None:
    stmt = select(Installation).where(Installation.client_key == client_key)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def enabled_secret(session: Session, client_key: str, decrypt) -> str | None:  # type: ignore[no-untyped-def]
    """The shared secret of an enabled installation, else None."""
    inst = by_client_key(session, client_key)
    if inst is None or inst.state != InstallationState.ENABLED or not inst.shared_secret_encrypted:
        return None  # a Forge-only installation has no Connect secret: no Connect JWT verifies
    return decrypt(inst.shared_secret_encrypted)


def stored_secret(session: Session, client_key: str, decrypt) -> str | None:  # type: ignore[no-untyped-def]
    """The shared secret of an installation in any state (enabled/disabled calls are signed with it)."""
    inst = by_client_key(session, client_key)
    if inst is None or not inst.shared_secret_encrypted:
        return None  # a Forge-only installation has no Connect secret
    return decrypt(inst.shared_secret_encrypted)
