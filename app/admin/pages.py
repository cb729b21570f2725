"""The admin page itself: `/admin` (Connect), the built bundle at `/admin/app/`, the OAuth
callback, and the development-only page token at `/dev/admin`."""

from __future__ import annotations

import html
import time
from pathlib import Path

import jwt
from flask import Blueprint, Response, abort, current_app, g, redirect, request, send_from_directory
from sqlalchemy import select

from app import extensions
from app.connect.auth import connect_jwt
from app.models import Installation, InstallationState
from app.models.credential import CredentialKind
from workers.atlassian.qsh import CONTEXT_QSH

bp = Blueprint("admin_pages", __name__)
DIST = Path(__file__).resolve().parent / "ui" / "dist"
HOSTS = ("connect", "forge", "dev")
DEV_TOKEN_LIFETIME = 900  # like Connect's context tokens; no longer than JWT_MAX_LIFETIME accepts
SANDBOX_ADMIN_EMAIL = "admin@example.com"
NOT_BUILT = ("<!doctype html><meta charset=utf-8><title>Admin page not built</title>"
             "<h1>Admin page not built</h1><p>admin page not built: run "
             "<code>python3 dev.py run</code> (it builds <code>app/admin/ui/dist/</code>), or "
             "build it with <code>npm ci &amp;&amp; npm run build</code> in "
             "<code>app/admin/ui/</code>.</p>")


def dist() -> Path:
    return Path(current_app.config.get("ADMIN_UI_DIST") or DIST)


def _page(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/html")


def _index(host: str) -> Response:
    index = dist() / "index.html"
    if not index.is_file():
        return _page(NOT_BUILT, 503)
    text = index.read_text(encoding="utf-8")
    # The bundle also reads ?host=; the meta tag tells it when it is served as the page itself.
    # Its asset URLs are relative (Forge serves them from its own CDN path), so served from
    # /admin the page needs a base pointing at where the assets live.
    meta = (f'<meta name="usersync-host" content="{host}">'
            f'<base href="{html.escape(request.script_root)}/admin/app/">')
    text = text.replace("<head>", "<head>" + meta, 1) if "<head>" in text else meta + text
    response = _page(text)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin")
@connect_jwt(context_qsh=True)
def admin_page():  # type: ignore[no-untyped-def]
    """Connect's adminPages/configurePage: the bundle, which then calls /api/admin/ itself."""
    return _index("connect")


@bp.get("/admin/app/")
@bp.get("/admin/app/<path:path>")
def bundle(path: str = "index.html"):  # type: ignore[no-untyped-def]
    folder = dist()
    if not (folder / "index.html").is_file():
        return _page(NOT_BUILT, 503)
    target = folder / path
    try:
        inside = target.resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        inside = False
    if inside and target.is_file() and path != "index.html":
        response = send_from_directory(folder, path)
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
    host = request.args.get("host", "dev")
    return _index(host if host in HOSTS else "dev")  # never echo arbitrary text into the page


@bp.get("/admin/oauth/callback")
def oauth_callback():  # type: ignore[no-untyped-def]
    """Where Atlassian sends the admin back after the OAuth consent (no JWT: `state` says who)."""
    from app.admin.oauth_state import BadState
    from app.admin.views.credential import finish_oauth
    from workers.atlassian.errors import AtlassianError

    if request.args.get("error"):
        return _result(False, f"Atlassian answered: {request.args.get('error_description') or request.args['error']}")
    code, state = request.args.get("code", ""), request.args.get("state", "")
    if not code or not state:
        return _result(False, "The answer has no code or state: start again from the admin page.")
    try:
        site = finish_oauth(code, state)
    except BadState as exc:
        return _result(False, str(exc), 400)
    except AtlassianError as exc:
        return _result(False, exc.message, 502)
    return _result(True, f"The site-admin account is connected for {site}. You can close this window.")


def _result(ok: bool, message: str, status: int = 200) -> Response:
    title = "Connected" if ok else "Not connected"
    return _page(f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>"
                 f"<p>{html.escape(message)}</p>", status if not ok else 200)


@bp.get("/dev/admin")
def dev_admin():  # type: ignore[no-untyped-def]
    """Development only: a page token for the sandbox site's admin, as Jira would hand the page."""
    if current_app.config.get("USERSYNC_ENV") != "development":
        abort(404)
    client_key = request.args.get("client_key")
    with extensions.db.session() as session:
        stmt = select(Installation).where(Installation.state == InstallationState.ENABLED)
        if client_key:
            stmt = stmt.where(Installation.client_key == client_key)
        inst = session.scalars(stmt.order_by(Installation.id.desc())).first()
        if inst is None:
            abort(404)
        iid, key = inst.id, inst.client_key
        secret = extensions.secrets.decrypt(inst.shared_secret_encrypted)
    account_id = request.args.get("account_id") or _sandbox_admin(iid)
    if not account_id:
        return _page("<!doctype html><p>The site's admin account could not be found: pass "
                     "<code>account_id=</code>.</p>", 404)
    now = int(time.time())
    token = jwt.encode({"iss": key, "sub": account_id, "qsh": CONTEXT_QSH, "iat": now,
                        "exp": now + min(DEV_TOKEN_LIFETIME,
                                         int(current_app.config.get("JWT_MAX_LIFETIME", 900))),
                        "aud": key}, secret, algorithm="HS256")
    g.dev_token = token
    return redirect(f"/admin/app/?host=dev&jwt={token}", code=302)


def _sandbox_admin(installation_id: int) -> str | None:
    """The account of the e-mail whose API token the demo set-up stored (the sandbox admin)."""
    from app.admin.site import site_for
    from workers.atlassian.credentials import load_credential
    from workers.atlassian.errors import AtlassianError

    stored = load_credential(extensions.db, installation_id, CredentialKind.API_TOKEN,
                             extensions.secrets.decrypt)
    email = (stored.material.get("email") if stored else None) or SANDBOX_ADMIN_EMAIL
    try:
        user = site_for(installation_id).find_user_by_email(email)
    except (AtlassianError, ValueError):
        return None
    return user.account_id if user else None
