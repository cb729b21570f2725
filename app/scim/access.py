"""Whether a connection may use its SCIM endpoint: only an enabled connection of an enabled site."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models.connection import Connection
from app.models.installation import InstallationState
from app.scim.errors import ScimError


def refusal(session: Session, connection_id: int) -> ScimError | None:
    """The error every request of this connection gets, or None when it may be served.

    Statuses follow RFC 7644 §3.12. After an uninstall the endpoint is gone for the IdP:
    404 ("the endpoint does not exist"). A disabled connection or a disabled site keeps its
    endpoint, but the token no longer permits anything: 403 with no `scimType` (none of the
    RFC's keywords fits). Reads are refused as well as writes, so an IdP is never told what
    is still stored for a tenant that switched the connection off.
    """
    connection = session.get(Connection, connection_id)
    if connection is None or connection.installation.state == InstallationState.UNINSTALLED:
        return ScimError(404, "this SCIM endpoint no longer exists (the app was uninstalled)")
    if connection.installation.state != InstallationState.ENABLED:
        return ScimError(403, "the app is disabled on this site; nothing is read or stored")
    if not connection.enabled:
        return ScimError(403, "this connection is disabled; nothing is read or stored")
    return None
