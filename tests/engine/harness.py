"""The whole stack for engine tests: sandbox site, our app over HTTP, an installation with an
API-token write credential, and directory-file connections whose file the test rewrites."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import create_app, extensions
from app.connections import create as create_connection
from app.models import Change, Installation, SyncRun
from app.models.credential import CredentialKind
from sandbox.atlassian.testing import running_site
from sandbox.live import LiveServer
from workers.atlassian.auth import AtlassianHosts
from workers.atlassian.credentials import save_credential
from workers.atlassian.factory import ClientSettings, site_for_installation
from workers.atlassian.http import Transport
from workers.backoff import BackoffPolicy
from workers.sync import engine

FAST = BackoffPolicy(initial=0.05, cap=0.2, max_retries=4, max_retry_after=1.0)


class LateApp:
    app = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.app(environ, start_response)


class Stack:
    def __init__(self, cloud, app_url: str, installation_id: int, client_key: str, tmp: Path):
        self.cloud, self.app_url, self.tmp = cloud, app_url, tmp
        self.installation_id, self.client_key = installation_id, client_key
        self.client_settings = ClientSettings(
            app_key="com.example.usersync", hosts=AtlassianHosts(cloud.base_url, cloud.base_url),
            allow_private=True)
        self.env = engine.Environment(db=extensions.db, target_for=self.target,
                                      decrypt=extensions.secrets.decrypt, allow_private=True)

    def target(self, installation_id: int):  # type: ignore[no-untyped-def]
        return site_for_installation(installation_id, db=extensions.db, settings=self.client_settings,
                                     encrypt=extensions.secrets.encrypt,
                                     decrypt=extensions.secrets.decrypt,
                                     transport=Transport(policy=FAST, allow_private=True))

    def write_directory(self, directory: dict[str, Any], name: str = "directory.json") -> Path:
        path = self.tmp / name
        path.write_text(json.dumps(directory))
        return path

    def connection(self, directory: dict[str, Any], mapping: dict[str, Any] | None = None,
                   name: str = "directory.json") -> int:
        path = self.write_directory(directory, name)
        with extensions.db.session() as session:
            conn = create_connection(session, client_key=self.client_key, kind="directory_file",
                                     name="HR file", settings={"path": str(path)},
                                     mapping=mapping or {}, encrypt=extensions.secrets.encrypt)
            return conn.id

    def sync(self, connection_id: int, dry_run: bool = False, trigger: str = "manual") -> SyncRun:
        run_id = engine.start_run(extensions.db, connection_id, trigger, dry_run)
        engine.run_sync(self.env, run_id)
        return self.run(run_id)

    def run(self, run_id: int) -> SyncRun:
        with extensions.db.session() as session:
            return session.get(SyncRun, run_id)

    def changes(self, run_id: int) -> list[Change]:
        with extensions.db.session() as session:
            return list(session.scalars(select(Change).where(Change.run_id == run_id).order_by(Change.seq)))

    def members(self, group_name: str) -> set[str]:
        """E-mails of the members of a site group (by name)."""
        site = self.cloud.site
        return {u.email for u in site.members(site.group_by_name(group_name).group_id)}

    def group_names(self) -> set[str]:
        return {g.name for g in self.cloud.site.sorted_groups()}


@contextmanager
def stack(test_config: dict, tmp: Path, **site_options: Any) -> Iterator[Stack]:
    late = LateApp()
    with running_site(**site_options) as cloud, LiveServer(late) as server:
        test_config.update(BASE_URL=server.url,
                           INSTALL_KEYS_URL=cloud.base_url + "/connect-install-keys/")
        late.app = create_app(test_config)
        installed = cloud.install_app(server.url + "/atlassian-connect.json")
        with extensions.db.session() as session:
            inst = session.scalars(select(Installation).where(
                Installation.client_key == installed.client_key)).one()
            iid = inst.id
        save_credential(extensions.db, iid, CredentialKind.API_TOKEN,
                        {"email": cloud.admin_email, "api_token": cloud.admin_api_token},
                        extensions.secrets.encrypt)
        ready = Stack(cloud, server.url, iid, installed.client_key, tmp)
        ready.app = late.app  # its CLI runner runs `usersync` commands on this app's settings
        yield ready


ALICE = ("u-alice", "alice@example.com", True)
BOB = ("u-bob", "bob@example.com", True)
CAROL = ("u-carol", "carol@example.com", True)
LENIENT = {"max_removal_percent": 100, "max_users_affected": 1000}
"""A guard that lets every removal through (the engine tests plan their removals)."""


@contextmanager
def people_stack(test_config: dict, tmp: Path) -> Iterator[Stack]:
    """A stack whose site already has Alice, Bob and Carol's accounts."""
    with stack(test_config, tmp) as s:
        for _, email, _active in (ALICE, BOB, CAROL):
            s.cloud.site.add_user(email, email.split("@")[0])
        yield s


@contextmanager
def shared_redis_stack(test_config: dict, tmp: Path) -> Iterator[Stack]:
    """A stack whose Redis is the test run's own, emptied, so worker processes share it."""
    from redis import Redis

    with stack(test_config, tmp) as s:
        s.redis_url = test_config["REDIS_URL"]
        s.redis = Redis.from_url(s.redis_url)
        s.redis.flushdb()
        yield s


def directory(users: list[tuple[str, str, bool]], groups: dict[str, list[str]],
              parents: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """users: (id, email, active); groups: name → member ids (the group id is 'g-' + name)."""
    parents = parents or {}
    return {
        "users": [{"id": uid, "email": email, "display_name": email.split("@")[0], "active": active}
                  for uid, email, active in users],
        "groups": [{"id": f"g-{name}", "name": name, "members": members,
                    "parents": [f"g-{p}" for p in parents.get(name, [])]}
                   for name, members in groups.items()],
    }
