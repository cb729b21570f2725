"""A site-admin API token read from the database, which marks itself for reconnection when refused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from requests.auth import HTTPBasicAuth
from requests.models import PreparedRequest
from sqlalchemy import update

from app.db import Database
from app.models.credential import AtlassianCredential, CredentialKind, CredentialStatus
from workers.atlassian.credentials import load_credential
from workers.atlassian.errors import AuthError
from workers.atlassian.http import RenewableAuth
from workers.atlassian.scoped_token import DETECTED

# Given the stored material, the cloud id when the API gateway accepts the token (it is a
# scoped token the site URL refused), else None
GatewayProbe = Callable[[dict[str, Any]], str | None]

REFUSED = ("the site refused the API token (it expired, was revoked, or its account is no "
           "longer a site admin): create a new one, or connect OAuth, in the admin page")


class StoredApiTokenAuth(RenewableAuth):
    """Basic e-mail:token auth; on a 401 it looks for a token the admin replaced meanwhile,
    and when there is none it records the credential as needing reconnection (so the admin
    page shows it and no worker keeps sending it) and stops the run with that reason.

    `probe` (for a token sent to the site URL) asks whether the gateway takes the token:
    if so it is a scoped token, recorded as such instead of being marked dead."""

    def __init__(self, db: Database, installation_id: int, material: dict[str, Any],
                 version: int, decrypt: Callable[[str], str],
                 probe: GatewayProbe | None = None,
                 encrypt: Callable[[str], str] | None = None) -> None:
        self._db, self._installation_id, self._decrypt = db, installation_id, decrypt
        self._probe, self._encrypt = (probe, encrypt) if encrypt else (None, None)
        self._lock = threading.Lock()
        self._material, self._version = material, version

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        with self._lock:
            email, token = self._material["email"], self._material["api_token"]
        return HTTPBasicAuth(email, token)(request)

    def renew(self) -> None:
        with self._lock:
            stored = load_credential(self._db, self._installation_id, CredentialKind.API_TOKEN,
                                     self._decrypt)
            if stored is not None and stored.status == CredentialStatus.ACTIVE and \
                    stored.version != self._version:
                self._material, self._version = stored.material, stored.version
                return
            cloud_id = self._probe(self._material) if self._probe else None
            if cloud_id is not None and self._encrypt is not None:
                scoped = {**self._material, "scoped": True, "cloud_id": cloud_id}
                self._record(material_encrypted=AtlassianCredential.seal(scoped, self._encrypt))
                raise AuthError("api_token", DETECTED, status=401)
            self._record(status=CredentialStatus.REVOKED, last_error=REFUSED)
        raise AuthError("api_token", REFUSED, status=401)

    def _record(self, **values: Any) -> None:
        """Write over exactly the version this auth sent (a newer one is the admin's)."""
        with self._db.session() as session:
            session.execute(
                update(AtlassianCredential)
                .where(AtlassianCredential.installation_id == self._installation_id,
                       AtlassianCredential.kind == CredentialKind.API_TOKEN,
                       AtlassianCredential.version == self._version)
                .values(**values, version=self._version + 1)
                .execution_options(synchronize_session=False))
