"""Run the sandbox Forge invoker: `python -m sandbox.forge --port 8091 --remote http://localhost:8080`.

With `--site` it installs the app into that sandbox site at start; with `--schedule` it fires
the manifest's scheduled triggers every interval, spread over installations.
"""

from __future__ import annotations

import argparse
import threading
import time

import requests
from werkzeug.serving import make_server

from . import manifest as manifest_module
from .invoker import ForgeInvoker, InvokerError
from .server import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.forge", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--remote", required=True, help="the Forge Remote's base URL (this service)")
    parser.add_argument("--manifest", default=str(manifest_module.DEFAULT_MANIFEST))
    parser.add_argument("--site", help="a sandbox site to install the app into at start")
    parser.add_argument("--admin-email", default="admin@example.com")
    parser.add_argument("--admin-token")
    parser.add_argument("--schedule", action="store_true", help="fire the scheduled triggers")
    parser.add_argument("--period", type=float, help="seconds between firings (default: the manifest's interval)")
    args = parser.parse_args(argv)
    invoker = ForgeInvoker(manifest_module.load(args.manifest), args.remote)
    server = make_server(args.host, args.port, create_app(invoker), threaded=True)
    invoker.jwks_url = f"http://{args.host}:{server.server_port}/.well-known/jwks.json"
    threading.Thread(target=server.serve_forever, daemon=True, name="forge-http").start()
    print(f"Forge invoker: http://{args.host}:{server.server_port}  app {invoker.manifest.app_id}  "
          f"JWKS {invoker.jwks_url}", flush=True)
    if args.site:
        _install_when_up(invoker, args.site, (args.admin_email, args.admin_token or ""), args.remote)
    if args.schedule:
        invoker.start_schedule(args.period)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        invoker.stop()
        server.shutdown()


def _install_when_up(invoker: ForgeInvoker, site: str, admin: tuple[str, str], remote: str) -> None:
    """Wait for the site and the remote to answer, then install (both start beside us)."""
    last: Exception | None = None
    for _ in range(120):
        try:
            requests.get(site.rstrip("/") + "/rest/api/3/myself", auth=admin, timeout=2)
            requests.get(remote.rstrip("/") + "/healthz", timeout=2).raise_for_status()
            inst = invoker.install(site, admin)
            print(f"Installed through Forge into {site}: {inst.installation_id}", flush=True)
            return
        except (requests.RequestException, OSError, InvokerError) as exc:
            last = exc
            time.sleep(1)
    print(f"Forge install into {site} failed: {last}", flush=True)


if __name__ == "__main__":
    main()
