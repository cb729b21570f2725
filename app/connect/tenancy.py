"""Installations as the Connect routes see them: save a verified install, find a tenant's secret."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Installation, InstallationState

log = logging.getLogger(__name__)

PRODUCT_TYPES = {"jira", "confluence"}


class BadInstallPayload(ValueError):
    """The verified lifecycle body lacks a field we need."""


def save_install(session: Session, payload: dict[str, Any], encrypt) -> Installation:  # type: ignore[no-untyped-def]
    """Create or overwrite the installation of a verified `installed` call (new secret each time)."""
    for field in ("clientKey", "sharedSecret", "baseUrl", "productType"):
        if not isinstance(payload.get(field), str) or not payload[field]:
            raise BadInstallPayload(f"the installed payload has no {field}")
    product = payload["productType"].lower()
    if product not in PRODUCT_TYPES:
        raise BadInstallPayload(f"unsupported productType {payload['productType']!r}")
    inst = by_client_key(session, payload["clientKey"], lock=True)
    if inst is None:
        inst = Installation(client_key=payload["clientKey"])
        session.add(inst)
    inst.product_type = product
    inst.base_url = payload["baseUrl"].rstrip("/")
    inst.display_url = (payload.get("displayUrl") or None)
    inst.description = (payload.get("description") or None)
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
    elif inst.state == InstallationState.UNINSTALLED:
        log.info("lifecycle %s after uninstall ignored", event)
    elif event == "disabled":
        inst.state = InstallationState.DISABLED
    elif event == "enabled":
        inst.state = InstallationState.ENABLED
    return inst


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
