"""Fixtures: a sandbox site over HTTP, our Connect app installed on it, and client builders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Flask, jsonify, request

from app.crypto import KeyRing
from app.db import Database
from app.models.credential import CredentialKind
from app.models.installation import Installation
from sandbox.atlassian.testing import SiteHandle, running_site
from sandbox.live import LiveServer
from workers.atlassian.auth import AtlassianHosts, BearerAuth, api_token_auth, connect_auth
from workers.atlassian.credentials import save_credential
from workers.atlassian.factory import ClientSettings, site_urls
from workers.atlassian.http import Transport
from workers.atlassian.oauth import OAuthApp, authorization_url, finish_authorization
from workers.atlassian.site import Access, AtlassianSite, OrgAccess
from workers.backoff import BackoffPolicy

APP_KEY = "com.example.usersync.test"
ALICE, BOB, CAROL = "a" * 24, "b" * 24, "c" * 24
SEED = {
    "users": [
        {"accountId": ALICE, "emailAddress": "alice@example.com", "displayName": "Alice Able"},
        {"accountId": BOB, "emailAddress": "bob@example.com", "displayName": "Bob Baker",
         "active": False},
        {"accountId": CAROL, "emailAddress": "carol@example.com", "displayName": "Carol Cole"},
    ],
    "groups": [
        {"name": "engineering", "groupId": "11111111-1111-4111-8111-111111111111",
         "members": [ALICE, BOB]},
        {"name": "sales", "groupId": "22222222-2222-4222-8222-222222222222",
         "members": [ALICE]},
    ],
}
ENGINEERING, SALES = (g["groupId"] for g in SEED["groups"])
# Short waits so tests stay fast; Retry-After is still honoured exactly.
FAST = BackoffPolicy(initial=0.05, cap=0.2, max_retries=4)


def descriptor_app() -> Flask:
    """Our Connect app as the site sees it: a descriptor and an `installed` hook."""
    app = Flask("connect-test-app")

    @app.get("/atlassian-connect.json")
    def descriptor() -> Any:
        return jsonify({"key": APP_KEY, "name": "User & Group Sync (test)",
                        "baseUrl": request.host_url.rstrip("/"),
                        "authentication": {"type": "jwt"}, "scopes": ["READ", "ADMIN"],
                        "lifecycle": {"installed": "/installed"},
                        "apiMigrations": {"signed-install": True, "context-qsh": True}})

    @app.post("/installed")
    def installed() -> Any:
        return "", 204

    return app


@pytest.fixture()
def cloud() -> Iterator[SiteHandle]:
    with running_site(seed=SEED) as handle:
        yield handle


@pytest.fixture()
def product_secrets(cloud: SiteHandle) -> dict[str, str]:
    """Our app installed in the site's Jira and in its Confluence: each has its own secret."""
    with LiveServer(descriptor_app()) as app_server:
        url = app_server.url + "/atlassian-connect.json"
        return {product: cloud.install_app(url, product).shared_secret
                for product in ("jira", "confluence")}


@pytest.fixture()
def shared_secret(product_secrets: dict[str, str]) -> str:
    return product_secrets["jira"]


def make_transport(**kwargs: Any) -> Transport:
    return Transport(policy=kwargs.pop("policy", FAST), allow_private=True, **kwargs)


SiteFactory = Callable[..., AtlassianSite]


@pytest.fixture()
def make_site(cloud: SiteHandle, product_secrets: dict[str, str]) -> SiteFactory:
    """Build a client: `make_site(product, write="token"|None, org=True, transport=...)`;
    `org_writes` as the org key's option, `may_write=False` for an identity refused writes."""

    def build(product: str = "jira", *, write: str | None = "token", org: bool = False,
              transport: Transport | None = None, concurrency: int = 6,
              org_writes: bool | None = None, may_write: bool = True) -> AtlassianSite:
        base = cloud.base_url + ("/wiki" if product == "confluence" else "")
        root, product_base = site_urls(product, base)
        read = Access(root, connect_auth(APP_KEY, product_secrets[product], product_base),
                      "Connect app", may_write=may_write)
        write_access = Access(root, api_token_auth(cloud.admin_email, cloud.admin_api_token),
                              "site-admin API token", app_traffic=False) \
            if write == "token" else None
        org_access = OrgAccess(cloud.base_url, cloud.org_id,
                               BearerAuth(cloud.org_api_key)) if org else None
        return AtlassianSite(product, transport or make_transport(), read, write_access,
                             org_access, concurrency=concurrency, org_writes=org_writes)

    return build


# -- database and OAuth ---------------------------------------------------------------------
@dataclass
class Store:
    """The database (env DATABASE_URL, else a temp SQLite file; migrated) and a key ring."""

    db: Database
    ring: KeyRing

    def encrypt(self, text: str) -> str:
        return self.ring.encrypt(text)

    def decrypt(self, token: str) -> str:
        return self.ring.decrypt(token)


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    db = Database().configure(database_url)
    yield Store(db, KeyRing([Fernet.generate_key().decode()]))
    assert db.engine is not None
    db.engine.dispose()


@pytest.fixture()
def installation_id(store: Store, cloud: SiteHandle, shared_secret: str) -> int:
    with store.db.session() as session:
        row = Installation(client_key=f"test-{uuid.uuid4()}", product_type="jira",
                           base_url=cloud.base_url,
                           shared_secret_encrypted=store.encrypt(shared_secret))
        session.add(row)
        session.flush()
        return row.id


OAUTH_APP = OAuthApp("usersync-client", "usersync-secret", "https://usersync.test/oauth/callback")


def hosts_of(cloud: SiteHandle) -> AtlassianHosts:
    return AtlassianHosts(api_base=cloud.base_url, auth_base=cloud.base_url)


def settings_for(cloud: SiteHandle, **kwargs: Any) -> ClientSettings:
    return ClientSettings(app_key=APP_KEY, hosts=hosts_of(cloud), oauth_app=OAUTH_APP,
                          allow_private=True, **kwargs)


def consent(cloud: SiteHandle, product: str = "jira") -> str:
    """Walk the consent screen as the site admin; returns the code from the redirect."""
    cloud.register_oauth_client(OAUTH_APP.client_id, OAUTH_APP.client_secret,
                                [OAUTH_APP.redirect_uri])
    url = authorization_url(OAUTH_APP, hosts_of(cloud), product, state="s-123")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s-123"]
    return query["code"][0]


@pytest.fixture()
def oauth_connected(cloud: SiteHandle, store: Store, installation_id: int) -> dict[str, Any]:
    """The installation with a site-admin OAuth grant stored, as the admin page leaves it."""
    material = finish_authorization(OAUTH_APP, hosts_of(cloud), make_transport(),
                                    consent(cloud), cloud.base_url)
    save_credential(store.db, installation_id, CredentialKind.OAUTH, material, store.encrypt)
    return material
