"""Stored write credentials: save, load, and rotate OAuth tokens atomically (row lock + version CAS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.db import Database
from app.models.credential import AtlassianCredential, CredentialKind, CredentialStatus
from app.models.installation import Installation
from workers.atlassian.errors import AuthError

Crypt = Callable[[str], str]
MAX_SKEW = 60.0  # refresh this long before expiry (less for very short-lived tokens)


@dataclass(frozen=True, slots=True)
class StoredCredential:
    kind: CredentialKind
    material: dict[str, Any]
    version: int
    status: CredentialStatus
    last_error: str | None = None


def save_credential(db: Database, installation_id: int, kind: CredentialKind,
                    material: dict[str, Any], encrypt: Crypt) -> int:
    """Create or replace the (installation, kind) credential, active again; returns its version."""
    with db.session() as session:
        row = session.execute(_query(installation_id, kind).with_for_update()).scalar_one_or_none()
        if row is None:
            row = AtlassianCredential(installation_id=installation_id, kind=kind, version=0)
            session.add(row)
        row.material_encrypted = AtlassianCredential.seal(material, encrypt)
        row.status, row.last_error = CredentialStatus.ACTIVE, None
        row.version = (row.version or 0) + 1
        return row.version


def load_credential(db: Database, installation_id: int, kind: CredentialKind,
                    decrypt: Crypt) -> StoredCredential | None:
    with db.session() as session:
        row = session.execute(_query(installation_id, kind)).scalar_one_or_none()
        return _stored(row, decrypt) if row else None


def load_site_credential(db: Database, installation_id: int, kind: CredentialKind,
                         decrypt: Crypt) -> StoredCredential | None:
    """`load_credential` for a credential sent to the installation's own baseUrl (the API
    token): refused while that baseUrl is one no admin has confirmed, because a reinstall
    (or a replayed one) may have pointed it at a host that is not the customer's site."""
    stored = load_credential(db, installation_id, kind, decrypt)
    if stored is None or stored.status != CredentialStatus.ACTIVE:
        return stored
    with db.session() as session:
        inst = session.get(Installation, installation_id)
        if inst is not None and not inst.base_url_confirmed:
            raise AuthError(kind.value, (
                f"the site's baseUrl changed from {inst.confirmed_base_url} to {inst.base_url}; "
                f"the stored credential is not sent there until an admin confirms the new URL "
                f"with `usersync installations confirm-url {inst.client_key}`"))
    return stored


def delete_credential(db: Database, installation_id: int, kind: CredentialKind) -> bool:
    with db.session() as session:
        row = session.execute(_query(installation_id, kind)).scalar_one_or_none()
        if row is not None:
            session.delete(row)
        return row is not None


def _query(installation_id: int, kind: CredentialKind):  # type: ignore[no-untyped-def]
    return select(AtlassianCredential).where(AtlassianCredential.installation_id == installation_id,
                                             AtlassianCredential.kind == kind)


def _stored(row: AtlassianCredential, decrypt: Crypt) -> StoredCredential:
    return StoredCredential(row.kind, row.material(decrypt), row.version, row.status,
                            row.last_error)


def _lock_for_write(session: Session) -> None:
    """SQLite has no row locks: take its database write lock now, as FOR UPDATE would.

    Without it two workers could both try the same refresh token; with rotation the
    loser is refused and would wrongly record the grant as revoked.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("BEGIN IMMEDIATE"))


def is_fresh(material: dict[str, Any], now: float) -> bool:
    """Whether the access token still has comfortable life left."""
    lifetime = float(material.get("expires_at", 0)) - float(material.get("obtained_at", 0))
    skew = min(MAX_SKEW, max(lifetime, 0.0) / 4)
    return bool(material.get("access_token")) and float(material.get("expires_at", 0)) - skew > now


class OAuthTokens:
    """The OAuth access token of one installation, refreshed with rotation, safe across workers.

    A refresh runs inside one transaction holding the credential row (`FOR UPDATE` on
    PostgreSQL; SQLite serialises writers). The rotated refresh token is committed, with
    the version bumped only if it is still the version we read, before the new access
    token is handed out. A worker that finds the version moved on adopts the stored tokens
    instead of refreshing again, so racing workers never lose the grant.
    """

    def __init__(self, db: Database, installation_id: int, *, encrypt: Crypt, decrypt: Crypt,
                 refresher: Callable[[str], dict[str, Any]],
                 clock: Callable[[], float] = time.time) -> None:
        self._db, self._installation_id = db, installation_id
        self._encrypt, self._decrypt = encrypt, decrypt
        self._refresher, self._clock = refresher, clock
        self._lock = threading.Lock()
        self._material: dict[str, Any] | None = None
        self.refreshes = 0

    def access_token(self) -> str:
        with self._lock:
            if self._material is None or not is_fresh(self._material, self._clock()):
                self._material = self._refresh_stored(stale=None)
            return str(self._material["access_token"])

    def renew(self, stale: str) -> str:
        """The site refused `stale` early (revoked or rotated): get a newer token or fail."""
        with self._lock:
            if self._material is None or self._material.get("access_token") == stale:
                self._material = self._refresh_stored(stale=stale)
            return str(self._material["access_token"])

    @property
    def cloud_id(self) -> str:
        with self._lock:
            if self._material is None:
                self._material = self._refresh_stored(stale=None)
            return str(self._material.get("cloud_id", ""))

    def _refresh_stored(self, stale: str | None) -> dict[str, Any]:
        for _ in range(3):
            try:
                return self._refresh_once(stale)
            except _Raced:
                stale = None  # the winner's tokens are stored: adopt them if fresh
        raise AuthError("oauth", "could not store the rotated OAuth tokens (constant races)")

    def _refresh_once(self, stale: str | None) -> dict[str, Any]:
        failure: AuthError | None = None
        with self._db.session() as session:
            _lock_for_write(session)
            row = session.execute(_query(self._installation_id, CredentialKind.OAUTH)
                                  .with_for_update()).scalar_one_or_none()
            if row is None:
                raise AuthError("oauth", "no site-admin OAuth account is connected; connect one "
                                         "in the admin page")
            if row.status == CredentialStatus.REVOKED:
                raise AuthError("oauth", f"the site-admin OAuth grant was revoked: reconnect it "
                                         f"in the admin page ({row.last_error})")
            material = row.material(self._decrypt)
            stored_is_new = stale is None or material.get("access_token") != stale
            if stored_is_new and is_fresh(material, self._clock()):
                return material  # another worker (or a save) already has a good token
            try:
                fresh = {**material, **self._refresher(str(material.get("refresh_token") or ""))}
            except AuthError as exc:
                # A refused refresh token may just have been rotated by a worker that won
                # the race (no row lock on SQLite): only a still-current version is revoked.
                self._mark_revoked(session, row.id, row.version, str(exc))
                failure = exc
            else:
                fresh["refresh_token"] = fresh.get("refresh_token") or material.get("refresh_token")
                self._swap(session, row.id, row.version,
                           {"material_encrypted": AtlassianCredential.seal(fresh, self._encrypt)})
                self.refreshes += 1
                return fresh
        assert failure is not None
        raise failure

    def _mark_revoked(self, session: Any, row_id: int, version: int, reason: str) -> None:
        # recorded in the same commit, so every worker sees it and stops asking
        self._swap(session, row_id, version,
                   {"status": CredentialStatus.REVOKED, "last_error": reason})

    def _swap(self, session: Any, row_id: int, version: int, values: dict[str, Any]) -> None:
        """Write `values` over exactly the version we read, bumping it; else _Raced."""
        result = session.execute(
            update(AtlassianCredential)
            .where(AtlassianCredential.id == row_id, AtlassianCredential.version == version)
            .values(**values, version=version + 1)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            # only reachable without a row lock: someone rotated first; theirs is stored
            session.rollback()
            raise _Raced()


class _Raced(Exception):
    """Internal: our rotation lost a compare-and-swap; the caller reloads."""
