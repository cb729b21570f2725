"""A pushing IdP replayed over HTTP into our SCIM endpoint, with checkpoints that sync into the
sandbox site and compare both the stored SCIM state and the site's groups."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests
from sqlalchemy import update

from app import extensions
from app.connections import create as create_connection
from app.models import Connection, SyncRun
from app.scim import tokens
from tests.engine.harness import Stack
from tests.engine.sources_fixtures import LENIENT
from workers.sync.plan import Plan

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def pending(connection_id: int) -> bool:
    with extensions.db.session() as session:
        return session.get(Connection, connection_id).pending_changes


def lower_flag(connection_id: int) -> None:
    """Clear the flag as a run's start does, so the next push has to raise it on its own."""
    with extensions.db.session() as session:
        session.execute(update(Connection).where(Connection.id == connection_id)
                        .values(pending_changes=False))


class Replay:
    """One IdP's provisioning client: a scim connection with its token, spoken to over HTTP."""

    def __init__(self, stack: Stack, name: str):
        self.stack = stack
        with extensions.db.session() as session:
            conn = create_connection(session, client_key=stack.client_key, kind="scim_push", name=name,
                                     settings={}, mapping=LENIENT,
                                     encrypt=extensions.secrets.encrypt)
            self.connection_id = conn.id
        with extensions.db.session() as session:
            issued = tokens.create(session, self.connection_id)
        self.base_url = stack.app_url + issued.base_path
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {issued.secret}", "Accept": SCIM_JSON})
        self.site_before = stack.group_names()

    def _send(self, method: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Content-Type": SCIM_JSON} if body is not None else {}
        return self.http.request(method, self.base_url + path, json=body, headers=headers,
                                 timeout=10)

    def get(self, path: str, expect: int = 200) -> dict[str, Any]:
        response = self._send("GET", path)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()

    def search(self, resource: str, filter_text: str, extra: str = "") -> dict[str, Any]:
        return self.get(f"/{resource}?filter={quote(filter_text)}{extra}")

    def push(self, method: str, path: str, body: dict[str, Any], expect: int) -> dict[str, Any]:
        """Send one change; an accepted one must flag the connection, a refused one must not."""
        lower_flag(self.connection_id)
        response = self._send(method, path, body)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        accepted = response.status_code < 300
        flagged = pending(self.connection_id)
        assert flagged is accepted, f"{method} {path} answered {expect} but pending_changes={flagged}"
        return response.json() if response.content else {}

    def members_of(self, group_id: str) -> set[str]:
        """The stored members of a group, read back through the API."""
        return {m["value"] for m in self.get(f"/Groups/{group_id}").get("members", [])}

    def sync(self) -> tuple[SyncRun, Plan]:
        """One run of the pipeline; it must succeed and lower the flag the pushes raised."""
        assert pending(self.connection_id), "no push is waiting for this sync"
        run = self.stack.sync(self.connection_id)
        assert run.status == "succeeded", (run.status, run.reason, run.error)
        assert not pending(self.connection_id), "the sync left pending_changes set"
        return run, Plan.from_json(run.plan)

    def assert_site(self, expected: dict[str, set[str]]) -> None:
        """Exactly the expected groups were added to the site, each with exactly these e-mails."""
        names = self.stack.group_names()
        assert self.site_before <= names, f"site groups lost: {self.site_before - names}"
        added = names - self.site_before
        assert added == set(expected), f"site groups {sorted(added)}, expected {sorted(expected)}"
        found = {name: self.stack.members(name) for name in expected}
        assert found == expected, f"site members {found}, expected {expected}"

    def group_id(self, name: str) -> str:
        return self.stack.cloud.site.group_by_name(name).group_id

    def settle(self) -> None:
        """A sync with nothing pushed since the last one: nothing planned, nothing written."""
        writes = len(self.stack.cloud.requests.writes())
        run = self.stack.sync(self.connection_id)
        assert (run.status, run.ops_total) == ("succeeded", 0), (run.status, run.plan)
        assert len(self.stack.cloud.requests.writes()) == writes
        assert not pending(self.connection_id)


def with_accounts(stack: Stack, emails: dict[str, str]) -> None:
    """Give each person (e-mail → display name) an Atlassian account the engine can link to."""
    for email, name in emails.items():
        stack.cloud.site.add_user(email, name)
