"""Installations as the Forge door sees them: record a verified invocation's site, adopt the
site's Connect installation (Atlassian's Connect-to-Forge path), and mark pre-uninstalls."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.connect import tenancy
from app.forge.fit import Invocation
from app.models import Installation, InstallationKind, InstallationState
from workers.atlassian import system_token

log = logging.getLogger(__name__)


def find(session: Session, invocation: Invocation, lock: bool = False) -> Installation | None:
    """The installation this invocation belongs to: by Forge installation id, else adopted."""
    stmt = select(Installation).where(
        Installation.forge_installation_id == invocation.installation_id)
    if lock:
        stmt = stmt.with_for_update()
    found = session.scalars(stmt).first()
    return found if found is not None else _adoptable(session, invocation, lock)


def _adoptable(session: Session, invocation: Invocation, lock: bool) -> Installation | None:
    """Match as Atlassian's migration does: the Connect clientKey the FIT carries, else the
    cloud id, else the site URL. Only a site without a (different) Forge installation or one
    that was uninstalled is taken over: a reinstall gets a new installation id."""
    candidates = []
    if invocation.connect_client_key:
        candidates.append(Installation.client_key == invocation.connect_client_key)
    if invocation.cloud_id:
        candidates.append(Installation.cloud_id == invocation.cloud_id)
    if invocation.site_url:
        candidates.append(func.lower(Installation.base_url) == invocation.site_url.rstrip("/").lower())
    for condition in candidates:
        stmt = select(Installation).where(condition, Installation.product_type == invocation.product)
        if lock:
            stmt = stmt.with_for_update()
        # a live installation first, the newest first: an uninstalled one is revived only
        # when the site has nothing else
        rows = sorted(session.scalars(stmt),
                      key=lambda i: (i.state == InstallationState.UNINSTALLED, -i.id))
        for inst in rows:
            if inst.forge_installation_id is None or inst.state == InstallationState.UNINSTALLED:
                return inst
    return None


def record(session: Session, invocation: Invocation, *, token: str | None,
           encrypt: Callable[[str], str], revive: bool = False,
           now: datetime | None = None) -> Installation:
    """Create, adopt or refresh the installation of a verified invocation.

    `revive` (the installed/upgraded lifecycle) re-enables an uninstalled installation; any
    other invocation of an uninstalled one leaves it uninstalled (a late trigger after
    preUninstall must not bring the schedules back).
    """
    now = now or datetime.now(UTC)
    inst = find(session, invocation, lock=True)
    if inst is None:
        inst = Installation(client_key=invocation.installation_id, kind=InstallationKind.FORGE,
                            product_type=invocation.product, shared_secret_encrypted=None,
                            base_url=(invocation.site_url or invocation.api_base_url).rstrip("/"),
                            state=InstallationState.ENABLED)
        session.add(inst)
        log.info("Forge installation %s recorded", invocation.installation_id)
    elif inst.forge_installation_id != invocation.installation_id:
        if inst.kind == InstallationKind.CONNECT:
            inst.adopted_at = now
            log.info("Connect installation %s adopted by Forge installation %s",
                     inst.client_key, invocation.installation_id)
        revive = True  # a new Forge installation of this site: it is installed now
    inst.kind = InstallationKind.FORGE
    inst.forge_installation_id = invocation.installation_id
    inst.api_base_url = invocation.api_base_url
    inst.cloud_id = invocation.cloud_id or inst.cloud_id
    inst.forge_environment = invocation.environment or inst.forge_environment
    if invocation.site_url and inst.shared_secret_encrypted is None:
        # the site URL arrives on UI calls only; Connect's baseUrl stays as Connect sent it.
        # Forge signed it, so it is confirmed: write credentials may be sent there.
        inst.base_url = inst.confirmed_base_url = invocation.site_url.rstrip("/")
    if revive and inst.state != InstallationState.ENABLED:
        inst.state, inst.uninstalled_at = InstallationState.ENABLED, None
    system_token.remember(inst, token, encrypt, now)
    session.flush()
    return inst


def uninstall(session: Session, invocation: Invocation,
              now: datetime | None = None) -> Installation | None:
    """preUninstall: mark the installation uninstalled (its schedules stop) and drop its token.

    Connections, links and history stay for the retention period, as for a Connect uninstall.
    """
    inst = find(session, invocation, lock=True)
    if inst is None or inst.forge_installation_id != invocation.installation_id:
        log.info("preUninstall for unknown Forge installation %s; nothing to do",
                 invocation.installation_id)
        return None
    if inst.state != InstallationState.UNINSTALLED:
        inst.state = InstallationState.UNINSTALLED
        inst.uninstalled_at = now or datetime.now(UTC)
    system_token.forget(inst)
    # as for a Connect uninstall: the admin's write credentials and SCIM tokens go at once
    tenancy.forget_credentials(session, inst.id)
    return inst
