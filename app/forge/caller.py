"""The admin API's caller from a Forge Invocation Token (`invokeRemote` from the admin page):
the installation from `app.installationId`, the user from `principal`."""

from __future__ import annotations

from flask import request

from app import extensions
from app.admin.caller import Caller
from app.admin.errors import ApiError
from app.forge import fit, installations
from app.forge.routes import verify_request
from app.forge.system_token import HEADER as SYSTEM_TOKEN_HEADER
from app.models import InstallationState


def forge_caller(_token: str) -> Caller:
    """Verify the request's FIT and name its caller; ApiError 401 when anything is off.

    The site admin check that follows (app.admin.caller.is_admin) reads the site with the
    app system token this call carries, which is kept for the installation here.
    """
    try:
        invocation = verify_request()
    except fit.FITRejected as exc:
        raise ApiError(401, exc.message, "unauthorized") from None
    if invocation.principal is None:
        raise ApiError(401, "the Forge Invocation Token names no user (principal): "
                            "the admin API answers the admin page only", "unauthorized")
    with extensions.db.session() as session:
        inst = installations.record(session, invocation,
                                    token=request.headers.get(SYSTEM_TOKEN_HEADER),
                                    encrypt=extensions.secrets.encrypt)
        if inst.state != InstallationState.ENABLED:
            raise ApiError(401, "the app is not installed on this site", "unauthorized")
    return Caller(inst, invocation.principal, inst.product_type, "forge")
