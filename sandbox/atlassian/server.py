"""The sandbox as one WSGI app: site, api and auth hosts on one base URL, with the request pipeline."""

from __future__ import annotations

import base64
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, jsonify, request

from sandbox.live import half_then_drop

from . import confluence, forge_tokens, gateway, jira, org_groups, upm
from .auth import ANONYMOUS, Denied, Principal, authorize, basic, connect_jwt, oauth_bearer
from .clock import Clock
from .connect import Installations
from .faults import FaultPlan
from .installer import Installer
from .keys import InstallKeys
from .limits import PointsQuota, RateLimits
from .oauth import AuthServer
from .render import confluence_error, jira_error
from .requestlog import LockedList, LoggedRequest, RequestLog
from .site import Site
from .spec import Operation, spec_for_path
from .validation import check_request, check_response

GATEWAY_PREFIXES = {"jira": "/ex/jira/", "confluence": "/ex/confluence/"}
OPEN_PATHS = ("/authorize", "/oauth/token", "/connect-install-keys/", "/_edge/tenant_info")


@dataclass(frozen=True)
class Violation:
    """A request or response that breaks Atlassian's published spec."""

    operation: str
    direction: str  # request | response
    status: int
    problems: tuple[str, ...]


class Violations(LockedList[Violation]):
    """Spec violations seen so far (the test helper fails the test when any are left)."""


class AtlassianSandbox:
    """All state of one sandbox Cloud site and its api/auth hosts; `app` is the WSGI app."""

    def __init__(self, site: Site, *, admin_email: str = "admin@example.com",
                 admin_api_token: str | None = None, org_api_key: str | None = None,
                 validate: bool = True, latency: float = 0.0, fault_seed: int = 1,
                 auto_webhooks: bool = False):
        self.site = site
        self.clock = Clock()
        admin = site.user_by_email(admin_email) or site.add_user(
            admin_email, "Site Admin", products=("jira-software", "confluence"))
        admin.api_token = admin.api_token or admin_api_token or secrets.token_urlsafe(24)
        site.make_admin(admin.account_id)
        self.admin = admin
        self.org_api_key = org_api_key or secrets.token_urlsafe(32)
        self.oauth = AuthServer(self.clock, consenting_account_id=admin.account_id)
        self.installations = Installations()
        self.forge_apps = forge_tokens.ForgeApps(site)
        self.install_keys = InstallKeys()
        self.faults = FaultPlan(fault_seed)
        self.limits = RateLimits()
        self.quota = PointsQuota(self.clock.now)
        self.requests = RequestLog()
        self.violations = Violations()
        self.validate = validate
        self.latency = latency
        self.auto_webhooks = auto_webhooks  # send user_created when the API invites a user
        self.base_url = ""
        self.upm = upm.UpmTokens()
        self.installer = Installer(site, self.installations, self.install_keys,
                                   lambda: self.base_url)
        self.app = create_app(self)


def _gateway_rewrite(cloud: AtlassianSandbox, environ: dict[str, Any]) -> None:
    """Map /ex/{product}/{cloudId}/… onto the site path, remembering how it came in."""
    path = environ.get("PATH_INFO", "")
    environ["sandbox.original_path"] = path
    for product, prefix in GATEWAY_PREFIXES.items():
        if path.startswith(prefix):
            cloud_id, _, rest = path[len(prefix):].partition("/")
            # each product's gateway reaches only that product's API
            right_product = rest.startswith("wiki/") == (product == "confluence")
            environ["sandbox.gateway"] = product
            environ["sandbox.cloud_ok"] = cloud_id == cloud.site.cloud_id and right_product
            environ["PATH_INFO"] = "/" + rest
            return


def _error(status: int, message: str) -> Response:
    path = request.path
    if path.startswith("/wiki/"):
        return confluence_error(status, message)
    if path.startswith("/rest/"):
        return jira_error(status, message)
    response = jsonify({"code": status, "message": message})
    response.status_code = status
    return response


def _authenticate(cloud: AtlassianSandbox) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    path, env = request.path, request.environ
    if path.startswith(("/admin/v1/", "/admin/v2/")):
        if scheme != "Bearer" or not secrets.compare_digest(value.encode(),
                                                            cloud.org_api_key.encode()):
            raise Denied(401, "A valid organization API key (Bearer) is required")
        return Principal("org-key", "org-key")
    if "sandbox.gateway" in env and scheme == "Basic":
        return basic(value, cloud.site, cloud.clock, via_gateway=True)  # a scoped API token
    if path == "/oauth/token/accessible-resources" or "sandbox.gateway" in env:
        if scheme != "Bearer":
            raise Denied(401, "Unauthorized; a Bearer access token is required")
        forge_app = cloud.forge_apps.principal(value, cloud.clock)
        return forge_app or oauth_bearer(value, cloud.oauth, cloud.site)
    if scheme == "JWT" or (not header and "jwt" in request.args):
        token = value if scheme == "JWT" else request.args["jwt"]
        relative = path.removeprefix("/wiki")
        query = request.query_string.decode()
        return connect_jwt(token, request.method, relative + (f"?{query}" if query else ""),
                           cloud.installations, cloud.clock,
                           "confluence" if path.startswith("/wiki/") else "jira")
    if scheme == "Basic":
        return basic(value, cloud.site, cloud.clock)
    if header:
        raise Denied(401, f"Authorization scheme '{scheme}' is not accepted on the site URL")
    return ANONYMOUS


def _apply_fault(cloud: AtlassianSandbox) -> Response | None:
    fault = cloud.faults.pick(request.method, request.environ["sandbox.original_path"])
    if fault is None:
        return None
    g.injected = True
    if fault.kind == "slow":
        time.sleep(fault.seconds)
        return None
    if fault.kind == "cut":
        g.cut = True  # answered for real in `_after`, then cut off part-way
        return None
    if fault.kind == "drop":
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            # close the TCP connection without an answer, as a reset proxy would
            sock.shutdown(socket.SHUT_RDWR)
        g.dropped = True
        return Response(status=502)
    response = _error(fault.status, "Injected fault: the service is unavailable")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(int(fault.retry_after))
    return response


def _before(cloud: AtlassianSandbox) -> Response | None:
    g.principal, g.op, g.injected, g.rate_headers = ANONYMOUS, None, False, {}
    if cloud.latency > 0:
        time.sleep(cloud.latency)
    fault_response = _apply_fault(cloud)
    if fault_response is not None:
        return fault_response
    if request.path.startswith(OPEN_PATHS) and request.path != \
            "/oauth/token/accessible-resources":
        return None
    if request.environ.get("sandbox.cloud_ok") is False:
        return _error(404, "No site with this cloudId offers this product API")
    if request.path.startswith("/rest/api/") and "jira" not in cloud.site.products:
        g.injected = True  # a Confluence-only site has no platform REST API at all
        return Response("Not Found", status=404, mimetype="text/plain")
    try:
        g.principal = _authenticate(cloud)
        limited = _rate_limit(cloud)
        if limited is not None:
            return limited
        _authorize_operation(cloud)
    except Denied as exc:
        return _error(exc.status, exc.message)
    return None


def _rate_limit(cloud: AtlassianSandbox) -> Response | None:
    klass = "read" if request.method in ("GET", "HEAD") else "write"
    for decision in (cloud.quota.check(g.principal.kind),
                     cloud.limits.check(g.principal.credential, klass)):
        if decision is None:
            continue
        g.rate_headers = decision.headers
        if not decision.allowed:
            g.injected = True
            return _error(429, "Rate limit exceeded.")
    return None


def _authorize_operation(cloud: AtlassianSandbox) -> None:
    spec = spec_for_path(request.path)
    if spec is None:
        if g.principal.kind == "none":
            raise Denied(401, "Client must be authenticated to access this resource.")
        return
    found = spec.find(request.method, request.path)
    if found is None:
        return  # Flask answers 404 / 405
    op, path_params = found
    g.op = op
    authorize(g.principal, op, cloud.site)
    if cloud.validate:
        problems = check_request(op, request.args.to_dict(flat=False), path_params,
                                 request.get_data(cache=True), request.content_type or "")
        if problems:
            cloud.violations.add(Violation(op.key, "request", 0, tuple(problems)))


def _after(cloud: AtlassianSandbox, response: Response) -> Response:
    for name, value in g.get("rate_headers", {}).items():
        response.headers[name] = value
    op: Operation | None = g.get("op")
    if cloud.validate and op is not None and not g.get("injected"):
        problems = check_response(op, response.status_code, response.get_data(),
                                  response.content_type or "")
        if problems:
            cloud.violations.add(Violation(op.key, "response", response.status_code,
                                           tuple(problems)))
    principal = g.get("principal", ANONYMOUS)
    kind = "client" if request.path == "/oauth/token" else principal.kind
    cloud.requests.add(LoggedRequest(
        request.method, request.environ.get("sandbox.original_path", request.path),
        request.query_string.decode(), kind, 0 if g.get("dropped") else response.status_code,
        request.get_data(cache=True) if request.method != "GET" else b""))
    if g.get("cut"):
        _cut_short(response)
    return response


def _cut_short(response: Response) -> None:
    """Send the real status, headers and length but half the body, then drop the connection."""
    body = response.get_data()
    response.response = half_then_drop(body, request.environ)
    response.headers["Content-Length"] = str(len(body))


def create_app(cloud: AtlassianSandbox) -> Flask:
    """The Flask app serving every host of the sandbox."""
    app = Flask("sandbox.atlassian")
    app.extensions["atlassian-sandbox"] = cloud
    app.json.sort_keys = False
    for blueprint in (jira.bp, confluence.bp, gateway.bp, org_groups.bp, upm.bp,
                      forge_tokens.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(404, lambda e: _error(404, "Not found: no such resource"))
    app.register_error_handler(405, lambda e: _error(405, "Method not allowed here"))
    app.before_request(lambda: _before(cloud))
    app.after_request(lambda response: _after(cloud, response))
    inner = app.wsgi_app

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        _gateway_rewrite(cloud, environ)
        return inner(environ, start_response)

    app.wsgi_app = wsgi  # type: ignore[method-assign]
    return app


def basic_header(email: str, token: str) -> str:
    """The Authorization value for HTTP Basic e-mail:API-token."""
    return "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()
