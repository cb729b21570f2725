"""Builds the AtlassianSite of an installation from the database: its JWT, write credential, org key."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from redis import Redis

from app.db import Database
from app.models.credential import CredentialKind, CredentialStatus
from app.models.installation import Installation, InstallationKind
from app.settings import Settings
from workers.atlassian import oauth, scoped_token
from workers.atlassian.api_token import StoredApiTokenAuth
from workers.atlassian.auth import (
    AtlassianHosts,
    BearerAuth,
    OAuthBearerAuth,
    connect_auth,
)
from workers.atlassian.budget import AppBudget
from workers.atlassian.credentials import Crypt, OAuthTokens, load_credential, load_site_credential
from workers.atlassian.errors import AuthError, MissingCredentialError
from workers.atlassian.http import Transport
from workers.atlassian.site import DEFAULT_CONCURRENCY, Access, AtlassianSite, OrgAccess


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Process-wide settings of the Atlassian client (from the settings object, `from_settings`)."""

    app_key: str
    hosts: AtlassianHosts = AtlassianHosts()
    oauth_app: oauth.OAuthApp | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    allow_private: bool = False
    points_per_hour: int = 0  # the app's hourly Atlassian budget to share between sites; 0: off
    tenant_share: float = 0.25  # the most of it one site may use in an hour

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientSettings:
        """The client's part of the process's settings object (app.settings), read once."""
        app = oauth.OAuthApp(settings.oauth_client_id, settings.oauth_client_secret,
                             settings.oauth_redirect_uri) if settings.oauth_client_id else None
        return cls(app_key=settings.app_key,
                   hosts=AtlassianHosts(settings.atlassian_api_url, settings.atlassian_auth_url),
                   oauth_app=app, concurrency=settings.atlassian_concurrency,
                   allow_private=settings.allow_private_urls,
                   points_per_hour=settings.atlassian_points_per_hour,
                   tenant_share=settings.atlassian_tenant_share)


def site_urls(product: str, base_url: str) -> tuple[str, str]:
    """(site root, product base): Confluence's Connect baseUrl ends in /wiki, its REST paths too."""
    root = base_url.rstrip("/")
    if root.endswith("/wiki"):
        root = root[: -len("/wiki")]
    return root, (root + "/wiki" if product == "confluence" else root)


def site_for_installation(installation_id: int, *, db: Database, settings: ClientSettings,
                          encrypt: Crypt, decrypt: Crypt,
                          transport: Transport | None = None,
                          redis: Redis | None = None,
                          prefer_connect: bool = False, read_only: bool = False) -> AtlassianSite:
    """The site of one installation, with every credential its admin has connected; with
    `redis` and a configured budget, its app traffic draws on the shared hourly budget.
    `prefer_connect`: read with the Connect JWT even where Forge adopted the installation (a
    Connect page's caller is checked with the identity its page came through). `read_only`:
    a dry run's site, whose transport refuses every write unsent."""
    with db.session() as session:
        installation = session.get(Installation, installation_id)
        if installation is None:
            raise LookupError(f"installation {installation_id} does not exist")
        if not installation.base_url_confirmed:
            # A reinstall moved the site to a host no admin confirmed: what it answers could
            # steer writes made through OAuth at the real site, so nothing runs against it.
            raise AuthError("site", f"the site's baseUrl changed from "
                            f"{installation.confirmed_base_url} to {installation.base_url}; "
                            "nothing is read or written until an admin confirms it with "
                            f"`usersync installations confirm-url {installation.client_key}`")
        product, base_url = installation.product_type, installation.base_url
        shared_secret = (decrypt(installation.shared_secret_encrypted)
                         if installation.shared_secret_encrypted else None)
        forge_read = forge_read_access(installation, decrypt)
    transport = transport or Transport(allow_private=settings.allow_private, read_only=read_only)
    root, product_base = site_urls(product, base_url)
    if prefer_connect and shared_secret is not None:
        forge_read = None
    if forge_read is not None or shared_secret is None:
        read = forge_read or _no_read_identity(installation_id)
    else:
        read = Access(root, connect_auth(settings.app_key, shared_secret, product_base),
                      "Connect app")
    org, org_writes = _org_access(installation_id, db, settings, decrypt)
    return AtlassianSite(product, transport, read,
                         write=_write_access(installation_id, product, root, db, settings,
                                             encrypt, decrypt, transport),
                         org=org, org_writes=org_writes,
                         concurrency=settings.concurrency,
                         budget=AppBudget(redis, str(installation_id), settings.points_per_hour,
                                          settings.tenant_share)
                         if redis is not None and settings.points_per_hour > 0 else None)


def forge_read_access(installation: Installation, decrypt: Crypt) -> Access | None:
    """Reads of a Forge installation: its app system token against the FIT's apiBaseUrl."""
    from workers.atlassian import system_token

    if installation.kind != InstallationKind.FORGE or not installation.api_base_url:
        return None
    token = system_token.current(installation, decrypt)
    if token is None:
        return None
    # Atlassian refuses group writes to a Forge app's own token: writes need the admin's credential
    return Access(installation.api_base_url, BearerAuth(token), "Forge app", may_write=False)


def _no_read_identity(installation_id: int) -> Access:
    raise MissingCredentialError(
        "read", f"installation {installation_id} has no current Forge app system token and no "
        "Connect secret; Forge hands a token over with its next scheduled trigger")


def _write_access(installation_id: int, product: str, root: str, db: Database,
                  settings: ClientSettings, encrypt: Crypt, decrypt: Crypt,
                  transport: Transport) -> Access | None:
    grant = load_credential(db, installation_id, CredentialKind.OAUTH, decrypt)
    if grant and grant.status == CredentialStatus.ACTIVE and settings.oauth_app:
        app, hosts = settings.oauth_app, settings.hosts
        tokens = OAuthTokens(db, installation_id, encrypt=encrypt, decrypt=decrypt,
                             refresher=lambda rt: oauth.refresh(
                                 app, hosts, rt, allow_private=transport.allow_private))
        gateway = hosts.product_gateway(product, grant.material["cloud_id"])
        return Access(gateway, OAuthBearerAuth(tokens), "site-admin OAuth account")
    token = load_site_credential(db, installation_id, CredentialKind.API_TOKEN, decrypt)
    if token and token.status == CredentialStatus.ACTIVE:
        if token.material.get("scoped"):
            # Atlassian takes a token created with scopes only through its API gateway
            auth = StoredApiTokenAuth(db, installation_id, token.material, token.version, decrypt)
            base = settings.hosts.product_gateway(product, str(
                token.material.get("cloud_id") or scoped_token.tenant_cloud_id(transport, root)))
            return Access(base, auth, scoped_token.LABEL, app_traffic=False)
        probe = partial(scoped_token.gateway_takes, hosts=settings.hosts, product=product,
                        transport=transport, site_root=root)
        return Access(root, StoredApiTokenAuth(db, installation_id, token.material,
                                               token.version, decrypt, probe=probe,
                                               encrypt=encrypt),
                      "site-admin API token", app_traffic=False)
    return None


def _org_access(installation_id: int, db: Database, settings: ClientSettings,
                decrypt: Crypt) -> tuple[OrgAccess | None, bool | None]:
    """The org key and whether it writes: the key's `writes` option (True: groups, members
    and invites always go through the organization; False: never), else None, which writes
    through it only when no product write credential is connected."""
    key = load_credential(db, installation_id, CredentialKind.ORG_API_KEY, decrypt)
    if key is None or key.status != CredentialStatus.ACTIVE:
        return None, None
    writes = key.material.get("writes")
    return (OrgAccess(settings.hosts.api_base, key.material["org_id"],
                      BearerAuth(key.material["api_key"])),
            writes if isinstance(writes, bool) else None)
