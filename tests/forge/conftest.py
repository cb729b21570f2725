"""The Forge stack for tests: the sandbox site, our app over HTTP, and the sandbox Forge invoker
whose JWKS the app trusts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app import create_app
from sandbox.atlassian.testing import SiteHandle, running_site
from sandbox.forge.testing import InvokerHandle, running_invoker
from sandbox.live import LiveServer
from tests.engine.harness import LateApp


@dataclass
class ForgeStack:
    cloud: SiteHandle
    forge: InvokerHandle
    app_url: str
    flask_app: object

    def install(self, **options: object):  # type: ignore[no-untyped-def]
        return self.forge.invoker.install(self.cloud.base_url, self.cloud.admin_auth, **options)


@pytest.fixture()
def forge_stack(test_config: dict) -> Iterator[ForgeStack]:
    late = LateApp()
    with running_site() as cloud, LiveServer(late) as server, \
            running_invoker(server.url, retry_delay=0.01) as forge:
        test_config.update(BASE_URL=server.url, FORGE_JWKS_URL=forge.jwks_url,
                           FORGE_APP_ID=forge.app_id,
                           INSTALL_KEYS_URL=cloud.base_url + "/connect-install-keys/")
        late.app = create_app(test_config)
        yield ForgeStack(cloud, forge, server.url, late.app)
