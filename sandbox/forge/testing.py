"""Run the sandbox Forge invoker for a test or benchmark: `with running_invoker(remote_url) as forge:`.

The handle offers `invoker` (a ForgeInvoker: `install(site_url, admin)`, `scheduled(inst,
times=…)`, `invoke_remote(inst, path, method, body)`, `upgrade`, `uninstall`, `deliveries`),
`jwks_url` (point USERSYNC_FORGE_JWKS_URL here), `app_id` and `url`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sandbox.live import LiveServer

from . import manifest as manifest_module
from .invoker import ForgeInvoker
from .server import create_app


@dataclass
class InvokerHandle:
    invoker: ForgeInvoker
    url: str

    @property
    def jwks_url(self) -> str:
        return self.url + "/.well-known/jwks.json"

    @property
    def app_id(self) -> str:
        return self.invoker.manifest.app_id


@contextmanager
def running_invoker(remote_url: str, manifest: str | Path = manifest_module.DEFAULT_MANIFEST,
                    **options: object) -> Iterator[InvokerHandle]:
    invoker = ForgeInvoker(manifest_module.load(manifest), remote_url, **options)  # type: ignore[arg-type]
    with LiveServer(create_app(invoker)) as server:
        invoker.jwks_url = server.url + "/.well-known/jwks.json"
        try:
            yield InvokerHandle(invoker, server.url)
        finally:
            invoker.stop()
