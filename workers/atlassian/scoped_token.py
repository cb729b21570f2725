"""Scoped API tokens: Atlassian accepts them only through api.atlassian.com/ex/{product}/{cloudId}.

A token created "with scopes" is refused on the site URL with the same bare 401 as a dead
one, so the client learns the route either from the admin (the credential's `scoped` flag) or
by asking, after such a refusal, whether the gateway takes the token. The cloud id comes from
the site's own unauthenticated `/_edge/tenant_info`, fetched once per site and process.
"""

from __future__ import annotations

import threading
from typing import Any

from workers.atlassian import products
from workers.atlassian.auth import AtlassianHosts, api_token_auth
from workers.atlassian.clients import confluence_client, jira_client, send
from workers.atlassian.errors import (
    AtlassianError,
    BadRequestError,
    PermissionDenied,
    TransientError,
)
from workers.atlassian.http import Transport, json_body

LABEL = "site-admin scoped API token"
DETECTED = ("the API token was created with scopes, which Atlassian accepts only through "
            "api.atlassian.com: it is now recorded as a scoped token, and the next run (or "
            "Check in the admin page) sends it there")

_cloud_ids: dict[str, str] = {}
_lock = threading.Lock()


def tenant_cloud_id(transport: Transport, site_root: str) -> str:
    """The site's cloud id from `{site}/_edge/tenant_info` (cached for the process)."""
    root = site_root.rstrip("/")
    with _lock:
        known = _cloud_ids.get(root)
    if known:
        return known
    response = transport.request("tenant_info", "GET", root + "/_edge/tenant_info", auth=None)
    body = json_body("tenant_info", response)
    cloud_id = body.get("cloudId") if isinstance(body, dict) else None
    if not isinstance(cloud_id, str) or not cloud_id:
        raise BadRequestError("tenant_info", "the site did not say its cloud id",
                              status=response.status_code, remote_message=response.text[:200])
    with _lock:
        _cloud_ids[root] = cloud_id
    return cloud_id


def gateway_takes(material: dict[str, Any], *, hosts: AtlassianHosts, product: str,
                  transport: Transport, site_root: str) -> str | None:
    """The cloud id when the API gateway accepts this e-mail and token (a scoped token the
    site refused), else None (the token is dead on both routes)."""
    try:
        cloud_id = tenant_cloud_id(transport, site_root)
    except TransientError:
        raise
    except AtlassianError:
        return None
    auth = api_token_auth(str(material.get("email", "")), str(material.get("api_token", "")))
    call = products.PRODUCTS[product].current_user()
    build = jira_client if call.api == "jira" else confluence_client
    try:
        send(build(transport, hosts.product_gateway(product, cloud_id), auth),
             "check_scoped_token", call.invoke, call.method, call.path)
    except PermissionDenied:
        return cloud_id  # accepted, only not allowed this read: still the gateway's token
    except TransientError:
        raise
    except AtlassianError:
        return None  # refused there too: the token is dead (expired or revoked)
    return cloud_id
