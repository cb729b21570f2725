"""Who is calling the admin API: one `Caller` from a Connect context token (or a Forge token),
checked on every request to be an administrator of its site."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app, g, request

from app import extensions, logs
from app.admin.errors import ApiError
from app.connect import tenancy
from app.connect.auth import incoming
from app.connect.verify import JWTRejected, verify_request
from app.models import Installation

ADMIN_CACHE_SECONDS = 60.0
"""How long one answer of the site's admin check is trusted (an admin demoted is out within it)."""
_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """The tenant (a detached Installation), the Atlassian account behind the call, its product,
    and the front door it came through (`connect` or `forge`)."""

    installation: Installation
    account_id: str
    product: str
    via: str
    # how this door asks the site whether the account is an admin, when not with the app's
    # identity (Forge: the user's own token, since Jira shows other users' permissions to admins)
    admin_check: Callable[[], bool] | None = field(default=None, compare=False, repr=False)


BearerResolver = Callable[[str], Caller]
"""Turns the value of `Authorization: Bearer …` into a Caller or raises ApiError(401)."""
bearer_resolvers: list[BearerResolver] = []
"""Filled by front doors that speak Bearer tokens (Forge Invocation Tokens, app/forge/)."""


class AdminCache:
    """(installation id, account id) → (is admin, when asked); thread-safe, bounded."""

    def __init__(self, ttl: float = ADMIN_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.clock = ttl, clock
        self._answers: dict[tuple[int, str], tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> bool | None:
        with self._lock:
            found = self._answers.get(key)
            if found is None or self.clock() - found[1] >= self.ttl:
                return None
            return found[0]

    def put(self, key: tuple[int, str], is_admin: bool) -> None:
        with self._lock:
            if len(self._answers) >= _CACHE_LIMIT:
                self._answers.clear()
            self._answers[key] = (is_admin, self.clock())

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


admin_cache = AdminCache()


def _connect_caller(header: str) -> Caller:
    try:
        with extensions.db.session() as session:
            claims = verify_request(
                incoming(),
                secret_for=lambda iss: tenancy.enabled_secret(session, iss, extensions.secrets.decrypt),
                base_url=current_app.config["BASE_URL"], leeway=current_app.config["JWT_LEEWAY"],
                allow_context_qsh=True,
                max_lifetime=current_app.config.get("JWT_MAX_LIFETIME", 900))
            installation = tenancy.by_client_key(session, claims["iss"])
    except JWTRejected as exc:
        current_app.logger.info("admin API token rejected: %s", getattr(exc, "detail", exc.message))
        raise ApiError(exc.status, exc.message, "unauthorized" if exc.status == 401 else None) from None
    account_id = claims.get("sub")
    if not isinstance(account_id, str) or not account_id:
        raise ApiError(401, "the token names no user (sub): open the page from the site's settings")
    def connect_admin_check() -> bool:
        # A Forge-adopted installation reads with Forge's app token, which may not read other
        # accounts' permissions; a Connect page's caller is checked with the Connect JWT.
        from app.admin.site import site_for

        return site_for(installation.id, prefer_connect=True).is_product_admin(account_id)

    return Caller(installation, account_id, installation.product_type, "connect",
                  admin_check=connect_admin_check)


def resolve() -> Caller:
    """The verified caller of this request, or ApiError 401."""
    header = request.headers.get("Authorization", "")
    if header.startswith("JWT "):
        return _connect_caller(header)
    if header.startswith("Bearer ") and bearer_resolvers:
        # One Bearer front door at a time (Forge); it raises ApiError(401) for a bad token.
        return bearer_resolvers[0](header[len("Bearer "):].strip())
    raise ApiError(401, "missing credentials: expected 'Authorization: JWT <context token>'")


def is_admin(caller: Caller) -> bool:
    """Ask the site (through the Atlassian client, with the app's identity), cached briefly."""
    from app.admin.site import site_for
    from workers.atlassian.errors import AtlassianError

    key = (caller.installation.id, caller.account_id)
    cached = admin_cache.get(key)
    if cached is not None:
        return cached
    try:
        answer = caller.admin_check() if caller.admin_check is not None else \
            site_for(caller.installation.id).is_product_admin(caller.account_id)
    except AtlassianError as exc:
        if getattr(exc, "status", None) in (400, 404):
            answer = False  # the site does not know this account: not one of its admins
        else:
            raise ApiError(503, f"the site could not confirm that you are an administrator: "
                                f"{exc.message}") from None
    admin_cache.put(key, answer)
    return answer


def require_admin() -> Caller:
    """The caller, when it is an administrator of its site; else ApiError 401/403."""
    caller = resolve()
    logs.tenant.set(caller.installation.client_key)
    if not is_admin(caller):
        raise ApiError(403, "only site administrators may configure User & Group Sync")
    g.caller = caller
    return caller
