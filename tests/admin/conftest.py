"""The admin API over the Flask test client, against a live sandbox site the app is installed
in (the admin check and the pickers reach it over HTTP, like the real site)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import jwt
import pytest
from sqlalchemy import select

from app import create_app, extensions
from app.admin.caller import admin_cache
from app.models import Installation
from sandbox.atlassian.testing import running_site
from sandbox.live import LiveServer
from tests.connect.tokens import install_payload
from workers.atlassian.auth import AtlassianHosts
from workers.atlassian.factory import ClientSettings
from workers.atlassian.oauth import OAuthApp
from workers.atlassian.qsh import CONTEXT_QSH

OAUTH_CLIENT = ("usersync-test-client", "usersync-test-secret")


class LateApp:
    app = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.app(environ, start_response)


@dataclass
class AdminEnv:
    cloud: object
    app: object
    client: object
    app_url: str
    client_key: str
    shared_secret: str
    installation_id: int
    admin_id: str
    member_id: str

    def token(self, account_id: str | None = None, *, client_key: str | None = None,
              secret: str | None = None, qsh: str = CONTEXT_QSH, exp_in: int = 300) -> str:
        now = int(time.time())
        claims = {"iss": client_key or self.client_key, "iat": now, "exp": now + exp_in,
                  "qsh": qsh, "sub": account_id or self.admin_id}
        return jwt.encode(claims, secret or self.shared_secret, algorithm="HS256")

    def headers(self, account_id: str | None = None, **kwargs) -> dict[str, str]:  # type: ignore[no-untyped-def]
        return {"Authorization": f"JWT {self.token(account_id, **kwargs)}"}

    def call(self, method: str, path: str, *, account_id: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.open(path, method=method, headers=self.headers(account_id), **kwargs)

    def get(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.call("DELETE", path, **kwargs)

    def other_tenant(self) -> tuple[str, str]:
        """A second installation (another site) with its own connection; (client key, secret)."""
        payload = install_payload("client-other", base_url="https://other.atlassian.net")
        from app.connect.tenancy import save_install

        with extensions.db.session() as session:
            save_install(session, payload, extensions.secrets.encrypt)
        return payload["clientKey"], payload["sharedSecret"]


@pytest.fixture()
def admin_env(test_config: dict, tmp_path) -> Iterator[AdminEnv]:
    admin_cache.clear()
    late = LateApp()
    with running_site() as cloud, LiveServer(late) as server:
        redirect = server.url + "/admin/oauth/callback"
        cloud.register_oauth_client(*OAUTH_CLIENT, [redirect])
        test_config.update(
            BASE_URL=server.url, INSTALL_KEYS_URL=cloud.base_url + "/connect-install-keys/",
            USERSYNC_ENV="production", ADMIN_UI_DIST=str(tmp_path / "dist"),
            ATLASSIAN_CLIENT=ClientSettings(
                app_key="com.example.usersync",
                hosts=AtlassianHosts(cloud.base_url, cloud.base_url),
                oauth_app=OAuthApp(*OAUTH_CLIENT, redirect), allow_private=True))
        late.app = create_app(test_config)
        installed = cloud.install_app(server.url + "/atlassian-connect.json")
        with extensions.db.session() as session:
            iid = session.scalars(select(Installation.id).where(
                Installation.client_key == installed.client_key)).one()
        member = cloud.site.add_user("member@example.com", "Plain Member")
        yield AdminEnv(cloud, late.app, late.app.test_client(), server.url, installed.client_key,
                       installed.shared_secret, iid, cloud.admin_account_id, member.account_id)
