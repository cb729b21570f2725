"""Run the sandbox Atlassian Cloud site: `python -m sandbox.atlassian --port 8090`."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from .server import AtlassianSandbox
from .testing import build_site


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.atlassian", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--seed", help="JSON file with users, groups and siteAdmins")
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--groups", type=int, default=0)
    parser.add_argument("--memberships", type=int, default=0)
    parser.add_argument("--seed-value", type=int, default=1)
    parser.add_argument("--admin-email", default="admin@example.com")
    parser.add_argument("--admin-token")
    parser.add_argument("--org-api-key")
    parser.add_argument("--no-validate", action="store_true")
    parser.add_argument("--no-auto-webhooks", action="store_true",
                        help="do not send user_created to installed apps on invites")
    parser.add_argument("--oauth-client", nargs=3, metavar=("CLIENT_ID", "SECRET", "REDIRECT_URI"),
                        help="register an OAuth 2.0 (3LO) app whose consent the site admin gives")
    args = parser.parse_args(argv)
    site = build_site(args.seed, users=args.users, groups=args.groups,
                      memberships=args.memberships, seed_value=args.seed_value)
    sandbox = AtlassianSandbox(site, admin_email=args.admin_email,
                               admin_api_token=args.admin_token, org_api_key=args.org_api_key,
                               validate=not args.no_validate,
                               auto_webhooks=not args.no_auto_webhooks)
    sandbox.base_url = f"http://{args.host}:{args.port}"
    if args.oauth_client:
        client_id, secret, redirect_uri = args.oauth_client
        sandbox.oauth.register_client(client_id, secret, [redirect_uri])
    print(f"Atlassian sandbox site: {sandbox.base_url}  cloudId={site.cloud_id} "
          f"orgId={site.org_id}", flush=True)
    print(f"Site admin (Basic): {sandbox.admin.email} / {sandbox.admin.api_token}", flush=True)
    print(f"Org API key (Bearer): {sandbox.org_api_key}  counts={site.counts()}", flush=True)
    run_simple(args.host, args.port, sandbox.app, threaded=True)


if __name__ == "__main__":
    main()
