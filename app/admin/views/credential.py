"""The Atlassian write credential: OAuth consent, organization API key, legacy API token."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import extensions
from app.admin import oauth_state
from app.admin.api import Context, operation
from app.admin.caller import Caller
from app.admin.errors import ApiError, validation
from app.admin.schemas import credential as s
from app.admin.site import client_settings, site_for
from app.models.credential import AtlassianCredential, CredentialKind, CredentialStatus
from workers.atlassian import oauth
from workers.atlassian.credentials import delete_credential, save_credential
from workers.atlassian.errors import AtlassianError

TAG = "credential"


def _item(row: AtlassianCredential) -> dict[str, Any]:
    material = row.material(extensions.secrets.decrypt)
    return {"kind": str(row.kind), "status": str(row.status), "last_error": row.last_error,
            "updated_at": row.updated_at, "email": material.get("email"),
            "org_id": material.get("org_id"),
            "scoped": bool(material.get("scoped")) if row.kind == CredentialKind.API_TOKEN
            else None}


def summary(installation_id: int) -> dict[str, Any]:
    """Which credential writes (as the worker's factory picks it) and what else is stored."""
    oauth_ready = client_settings().oauth_app is not None
    with extensions.db.session() as session:
        rows = list(session.scalars(select(AtlassianCredential).where(
            AtlassianCredential.installation_id == installation_id)
            .order_by(AtlassianCredential.kind)))
        items = [_item(r) for r in rows]
    live = {i["kind"] for i in items if i["status"] == CredentialStatus.ACTIVE}
    if CredentialKind.OAUTH in live and oauth_ready:
        active = CredentialKind.OAUTH.value
    elif CredentialKind.API_TOKEN in live:
        active = CredentialKind.API_TOKEN.value
    else:
        active = None
    return {"active": active,
            "org_api_key": "set" if CredentialKind.ORG_API_KEY in live else "not set",
            "items": items, "oauth_available": oauth_ready,
            "api_token_caution": s.API_TOKEN_CAUTION}


@operation("/credential", "GET", summary="Which write credential is active", tag=TAG,
           answer=s.CredentialSummary)
def get_credential(ctx: Context) -> dict[str, Any]:
    return summary(ctx.caller.installation.id)


@operation("/credential/oauth/start", "POST",
           summary="Start the OAuth 2.0 consent of a site admin", tag=TAG,
           answer=s.OAuthStart, errors=(409,))
def start_oauth(ctx: Context) -> dict[str, Any]:
    settings = client_settings()
    if settings.oauth_app is None:
        raise ApiError(409, "OAuth is not configured on this server (USERSYNC_OAUTH_CLIENT_ID); "
                            "ask the operator, or use an API token meanwhile")
    state = oauth_state.make(ctx.caller.installation.id, ctx.caller.account_id)
    return {"authorize_url": oauth.authorization_url(settings.oauth_app, settings.hosts,
                                                     ctx.caller.product, state)}


def finish_oauth(code: str, state: str) -> str:
    """The callback's work: store the grant; returns the site it was stored for."""
    consent = oauth_state.read(state)
    settings = client_settings()
    if settings.oauth_app is None:
        raise oauth_state.BadState("OAuth is not configured on this server")
    from app.admin.site import web_transport
    from app.models import Installation

    with extensions.db.session() as session:
        inst = session.get(Installation, consent.installation_id)
        if inst is None:
            raise oauth_state.BadState("the site that started this consent is no longer installed")
        site_url = inst.base_url
    material = oauth.finish_authorization(settings.oauth_app, settings.hosts, web_transport(),
                                          code, site_url)
    save_credential(extensions.db, consent.installation_id, CredentialKind.OAUTH,
                    {**material, "consented_by": consent.account_id}, extensions.secrets.encrypt)
    return site_url


@operation("/credential/org-key", "PUT", summary="Store the organization API key", tag=TAG,
           body=s.OrgKey, answer=s.CredentialSummary, errors=(400,))
def put_org_key(ctx: Context) -> dict[str, Any]:
    material: dict[str, Any] = {"org_id": ctx.body["org_id"], "api_key": ctx.body["api_key"]}
    if ctx.body.get("writes") is not None:
        material["writes"] = ctx.body["writes"]
    save_credential(extensions.db, ctx.caller.installation.id, CredentialKind.ORG_API_KEY,
                    material, extensions.secrets.encrypt)
    return summary(ctx.caller.installation.id)


@operation("/credential/api-token", "PUT",
           summary="Store a site-admin API token (legacy; see api_token_caution)", tag=TAG,
           body=s.ApiToken, answer=s.CredentialSummary, errors=(400,))
def put_api_token(ctx: Context) -> dict[str, Any]:
    material: dict[str, Any] = {"email": ctx.body["email"], "api_token": ctx.body["api_token"]}
    if ctx.body.get("scoped"):
        material["scoped"] = True
    save_credential(extensions.db, ctx.caller.installation.id, CredentialKind.API_TOKEN,
                    material, extensions.secrets.encrypt)
    return summary(ctx.caller.installation.id)


@operation("/credential/<kind>", "DELETE", summary="Forget a stored credential", tag=TAG,
           answer=s.CredentialSummary, errors=(400,))
def delete_stored_credential(ctx: Context, kind: str) -> dict[str, Any]:
    try:
        which = CredentialKind(kind)
    except ValueError:
        raise validation({"kind": [f"One of: {', '.join(k.value for k in CredentialKind)}."]}) from None
    delete_credential(extensions.db, ctx.caller.installation.id, which)
    return summary(ctx.caller.installation.id)


def _write_check(caller: Caller, active: str | None) -> dict[str, Any]:
    if active is None:
        return {"ok": False, "kind": None,
                "message": "No write credential is connected: connect a site-admin account "
                           "(OAuth) or store an API token."}
    try:
        who = site_for(caller.installation.id).check_write_access()
    except AtlassianError as exc:
        return {"ok": False, "kind": active, "message": exc.message}
    except (UnicodeError, ValueError) as exc:  # stored before input was checked this strictly
        return {"ok": False, "kind": active,
                "message": f"the stored credential cannot be sent ({type(exc).__name__}); store it again"}
    return {"ok": True, "kind": active, "message": f"Works: Atlassian answered as {who}."}


def _org_check(caller: Caller) -> dict[str, Any]:
    try:
        directories = site_for(caller.installation.id).check_org_access()
    except AtlassianError as exc:
        return {"ok": False, "message": exc.message}
    except (UnicodeError, ValueError) as exc:
        return {"ok": False, "message": f"the stored key cannot be sent ({type(exc).__name__})"}
    return {"ok": True, "message": f"Works: the organization has {directories} directory(ies)."}


def check(caller: Caller) -> dict[str, Any]:
    stored = summary(caller.installation.id)
    answer = _write_check(caller, stored["active"])
    answer["org_key"] = _org_check(caller) if stored["org_api_key"] == "set" else None
    return answer


@operation("/credential/check", "POST", summary="Does the active write credential still work?",
           tag=TAG, answer=s.CredentialCheck)
def check_credential(ctx: Context) -> dict[str, Any]:
    return check(ctx.caller)
