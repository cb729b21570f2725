"""The admin API's caller from a Forge Invocation Token (`invokeRemote` from the admin page):
the installation from `app.installationId`, the user from `principal`."""

from __future__ import annotations

from flask import request

from app import extensions
from app.admin.caller import Caller
from app.admin.errors import ApiError
from app.forge import fit, installations
from app.forge.routes import verify_request
from app.models import Installation, InstallationState
from workers.atlassian.system_token import HEADER as SYSTEM_TOKEN_HEADER

USER_TOKEN_HEADER = "x-forge-oauth-user"
"""The app acting as the UI call's user (manifest: the resolver's `auth.appUserToken`)."""


def forge_caller(_token: str) -> Caller:
    """Verify the request's FIT and name its caller; ApiError 401 when anything is off.

    The app system token this call carries is kept for the installation's reads. The admin
    check that follows (app.admin.caller.is_admin) asks the site with the user's own token:
    Jira answers anyone about their own global permissions, but shows another account's only
    to admins, which the app's account is not. Without a user token the app's identity asks.
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
    user_token = request.headers.get(USER_TOKEN_HEADER) or None
    check = None
    if user_token:
        def check() -> bool:
            return _is_admin_as_user(inst, invocation.principal, user_token)
    return Caller(inst, invocation.principal, inst.product_type, "forge", admin_check=check)


def _is_admin_as_user(inst: Installation, account_id: str, user_token: str) -> bool:
    """The product admin check, sent with the user's token to the FIT's apiBaseUrl."""
    from app.admin.site import web_transport
    from workers.atlassian.auth import BearerAuth
    from workers.atlassian.site import Access, AtlassianSite

    as_user = Access(inst.api_base_url or "", BearerAuth(user_token), "Forge user", may_write=False)
    return AtlassianSite(inst.product_type, web_transport(), as_user).is_product_admin(account_id)
