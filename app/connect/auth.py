"""`@connect_jwt`: the guard on every product → app route; puts the tenant on `g`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, jsonify, request

from app import extensions, logs
from app.connect import tenancy
from app.connect.verify import IncomingRequest, JWTRejected, verify_request


def incoming(req: Any = None) -> IncomingRequest:
    """The Flask request as verification sees it (the raw URI keeps the exact query)."""
    req = req or request
    uri = req.environ.get("RAW_URI") or req.environ.get("REQUEST_URI") or req.full_path
    return IncomingRequest(method=req.method, url=req.root_url.rstrip("/") + uri,
                           authorization=req.headers.get("Authorization"),
                           query_jwt=req.args.get("jwt"))


def rejected(error: JWTRejected):  # type: ignore[no-untyped-def]
    response = jsonify(error=error.message)
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'JWT realm="atlassian-connect"'
    return response


def connect_jwt(context_qsh: bool = False) -> Callable:
    """Require a valid tenant JWT; `context_qsh=True` only on page loads and page-token API calls.

    On success the view sees `g.installation` (detached Installation) and `g.account_id`
    (the JWT `sub`, the Atlassian user behind the call, when there is one).
    """

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                with extensions.db.session() as session:
                    claims = verify_request(
                        incoming(),
                        secret_for=lambda iss: tenancy.enabled_secret(session, iss, extensions.secrets.decrypt),
                        base_url=current_app.config["BASE_URL"],
                        leeway=current_app.config["JWT_LEEWAY"],
                        allow_context_qsh=context_qsh,
                        max_lifetime=current_app.config["JWT_MAX_LIFETIME"])
                    g.installation = tenancy.by_client_key(session, claims["iss"])
            except JWTRejected as exc:
                current_app.logger.info("jwt rejected on %s: %s", request.path, exc.detail)
                return rejected(exc)
            g.account_id = claims.get("sub")
            logs.tenant.set(claims["iss"])
            return view(*args, **kwargs)

        return wrapper

    return decorate
