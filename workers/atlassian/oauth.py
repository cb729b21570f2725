"""OAuth 2.0 (3LO) with auth.atlassian.com via authlib: consent URL, code exchange, refresh, cloudId."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from workers.atlassian.auth import AtlassianHosts, BearerAuth
from workers.atlassian.errors import AuthError, BadRequestError, TransientError
from workers.atlassian.http import Transport, json_body
from workers.netguard import check_url

# What the sync needs; offline_access is what makes Atlassian issue a refresh token.
SCOPES = {
    "jira": ("read:jira-user", "manage:jira-configuration", "offline_access"),
    "confluence": ("read:confluence-groups", "write:confluence-groups",
                   "read:confluence-user", "offline_access"),
}
# Answers of the token endpoint that mean the grant is gone for good (reconnect needed).
DEAD_GRANT = frozenset({"invalid_grant", "unauthorized_client", "access_denied",
                        "invalid_client"})
RECONNECT = "reconnect the site-admin account (OAuth) in the admin page"
TOKEN_TIMEOUT = (5.0, 20.0)


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """Our OAuth 2.0 app as registered in Atlassian's developer console."""

    client_id: str
    client_secret: str
    redirect_uri: str


def _session(app: OAuthApp, scopes: tuple[str, ...] = ()) -> OAuth2Session:
    # Atlassian wants the client credentials in the body, not in a Basic header.
    return OAuth2Session(app.client_id, app.client_secret, scope=" ".join(scopes) or None,
                         redirect_uri=app.redirect_uri,
                         token_endpoint_auth_method="client_secret_post")


def authorization_url(app: OAuthApp, hosts: AtlassianHosts, product: str, state: str,
                      scopes: tuple[str, ...] | None = None) -> str:
    """Where the admin page sends the site admin to consent; `state` ties the answer to them."""
    if not state:
        raise ValueError("state is required: it protects the callback against forgery")
    session = _session(app, scopes or SCOPES[product])
    url, _ = session.create_authorization_url(f"{hosts.auth_base.rstrip('/')}/authorize",
                                              state=state, audience="api.atlassian.com",
                                              prompt="consent")
    return url


def exchange_code(app: OAuthApp, hosts: AtlassianHosts, code: str, *,
                  allow_private: bool = False) -> dict[str, Any]:
    """Trade the callback's code for tokens: the material to store (without cloud_id yet)."""
    return _token_call(app, hosts, "exchange_code", allow_private,
                       lambda s, url: s.fetch_token(url, code=code,
                                                    grant_type="authorization_code"))


def refresh(app: OAuthApp, hosts: AtlassianHosts, refresh_token: str, *,
            allow_private: bool = False) -> dict[str, Any]:
    """One refresh: the NEW access and refresh tokens (Atlassian rotates the refresh token)."""
    return _token_call(app, hosts, "refresh_token", allow_private,
                       lambda s, url: s.refresh_token(url, refresh_token=refresh_token))


def _token_call(app: OAuthApp, hosts: AtlassianHosts, operation: str, allow_private: bool,
                call: Any) -> dict[str, Any]:
    url = check_url(f"{hosts.auth_base.rstrip('/')}/oauth/token", allow_private=allow_private,
                    resolve=False)
    session = _session(app)
    try:
        token = dict(call(session, url))
    except OAuthError as exc:
        if exc.error in DEAD_GRANT:
            raise AuthError(operation, f"the OAuth grant was refused: {RECONNECT}",
                            remote_message=exc.description or exc.error) from exc
        raise BadRequestError(operation, "the token endpoint refused the request",
                              remote_message=exc.description or exc.error) from exc
    except (requests.RequestException, ValueError) as exc:
        raise TransientError(operation, f"the token endpoint failed ({exc})") from exc
    finally:
        session.close()
    return material_from_token(token)


def material_from_token(token: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The fields we keep from a token answer; expiry as epoch seconds."""
    obtained = time.time() if now is None else now
    if not token.get("access_token"):
        raise TransientError("oauth", "the token endpoint answered without an access token")
    return {"access_token": token["access_token"],
            "refresh_token": token.get("refresh_token"),
            "obtained_at": obtained,
            "expires_at": obtained + float(token.get("expires_in") or 3600),
            "scopes": sorted(str(token.get("scope", "")).split())}


def accessible_resources(transport: Transport, hosts: AtlassianHosts,
                         access_token: str) -> list[dict[str, Any]]:
    """The sites this grant reaches: [{id (cloudId), url, name, scopes}, ...]."""
    url = f"{hosts.api_base.rstrip('/')}/oauth/token/accessible-resources"
    response = transport.request("accessible_resources", "GET", url,
                                 auth=BearerAuth(access_token))
    body = json_body("accessible_resources", response)
    return body if isinstance(body, list) else []


def cloud_id_for(resources: list[dict[str, Any]], site_url: str) -> str:
    """The cloudId of `site_url` among the accessible resources (the admin may have many sites)."""
    wanted = _site_root(site_url)
    for resource in resources:
        if _site_root(str(resource.get("url", ""))) == wanted and resource.get("id"):
            return str(resource["id"])
    names = ", ".join(str(r.get("url")) for r in resources) or "none"
    raise AuthError("accessible_resources",
                    f"the consenting account cannot reach {site_url} (it reaches: {names}); "
                    "connect with an admin of this site")


def _site_root(url: str) -> str:
    url = url.rstrip("/")
    return url[:-len("/wiki")] if url.endswith("/wiki") else url


def finish_authorization(app: OAuthApp, hosts: AtlassianHosts, transport: Transport, code: str,
                         site_url: str) -> dict[str, Any]:
    """Callback handling: exchange the code, find this site's cloudId, return the material."""
    material = exchange_code(app, hosts, code, allow_private=transport.allow_private)
    if not material.get("refresh_token"):
        raise AuthError("exchange_code", "no refresh token was issued: the consent must include "
                                         "offline_access")
    resources = accessible_resources(transport, hosts, material["access_token"])
    return {**material, "cloud_id": cloud_id_for(resources, site_url)}
