"""The app over real HTTP with a connection of each kind and its webhook endpoint."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import requests
from redis import Redis
from sqlalchemy import select

from app import create_app, extensions
from app.models import Connection, Installation, SyncRun
from app.models.webhook import WebhookDelivery
from app.webhooks import endpoints
from sandbox.live import LiveServer
from tests.forge.conftest import forge_stack  # noqa: F401  (the Forge fixture)
from workers.events import PENDING_KEY
from workers.queue import WAITING_KEY, queued


@dataclass
class Hook:
    """One connection's webhook: where to post, the secret, and what it left behind."""

    cid: int
    url: str
    secret: str
    redis: Redis

    def post(self, body: bytes | str, headers: dict[str, str] | None = None, **kw) -> requests.Response:
        return requests.post(self.url, data=body, headers=headers or {}, timeout=10, **kw)

    def pending(self) -> set[str]:
        return {m.decode() for m in self.redis.smembers(PENDING_KEY.format(cid=self.cid))}

    def flagged(self) -> bool:
        with extensions.db.session() as session:
            return session.get(Connection, self.cid).pending_changes

    def queued(self) -> int:
        return queued(self.redis)  # every sync queue: the rule picks one by size and trigger

    def side_effects(self) -> dict:
        with extensions.db.session() as session:
            deliveries = len(list(session.scalars(select(WebhookDelivery).where(
                WebhookDelivery.connection_id == self.cid))))
            runs = len(list(session.scalars(select(SyncRun).where(SyncRun.connection_id == self.cid))))
        return {"pending": self.pending(), "flagged": self.flagged(), "queued": self.queued(),
                "waiting": bool(self.redis.get(WAITING_KEY.format(cid=self.cid))),
                "deliveries": deliveries, "runs": runs}


NOTHING = {"pending": set(), "flagged": False, "queued": 0, "waiting": False, "deliveries": 0,
           "runs": 0}


@pytest.fixture()
def live(test_config):
    app = create_app(test_config)
    Redis.from_url(test_config["REDIS_URL"]).flushdb()
    with LiveServer(app) as server:
        app.config["BASE_URL"] = server.url
        yield server


@pytest.fixture()
def hook_for(live, test_config):
    redis = Redis.from_url(test_config["REDIS_URL"])

    def make(kind: str, enabled: bool = True) -> Hook:
        cid = add_connection(kind, enabled)
        with extensions.db.session() as session:
            endpoint = endpoints.ensure(session, session.get(Connection, cid),
                                        extensions.secrets.encrypt)
            return Hook(cid, endpoints.url(live.url, endpoint),
                        extensions.secrets.decrypt(endpoint.secret_encrypted), redis)

    return make


def add_connection(kind: str, enabled: bool = True) -> int:
    """An enabled installation with one connection of `kind`; returns its id."""
    with extensions.db.session() as session:
        inst = Installation(client_key=f"client-{uuid.uuid4()}", product_type="jira",
                            base_url="https://example.atlassian.net", shared_secret_encrypted="x")
        session.add(inst)
        session.flush()
        conn = Connection(installation_id=inst.id, name=kind, kind=kind, enabled=enabled,
                          settings={}, mapping={}, filters={}, default_groups=[], policy={},
                          pending_changes=False)
        session.add(conn)
        session.flush()
        return conn.id
