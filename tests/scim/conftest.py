"""SCIM fixtures: a scim connection with a token, and the app served over real HTTP on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from app.extensions import db
from app.models import Connection, Installation
from app.scim import tokens
from sandbox.live import LiveServer

SCIM_JSON = "application/scim+json"


class ScimClient:
    """A requests session bound to one SCIM base URL and bearer token."""

    def __init__(self, base_url: str, token: str, connection_id: int):
        self.base_url = base_url
        self.token = token
        self.connection_id = connection_id
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": SCIM_JSON})

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if body is not None:
            headers.setdefault("Content-Type", SCIM_JSON)
            kwargs["json"] = body
        return self.http.request(method, self.base_url + path, headers=headers, timeout=30,
                                 **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def add_connection(kind: str = "scim_push") -> int:
    """An installation with one connection of `kind`; returns the connection id."""
    with db.session() as session:
        installation = Installation(client_key=f"client-{uuid.uuid4()}", product_type="jira",
                                    base_url="https://example.atlassian.net",
                                    shared_secret_encrypted="x")
        session.add(installation)
        session.flush()
        connection = Connection(installation_id=installation.id, name="Pushed directory",
                                kind=kind, settings={}, mapping={}, filters={},
                                default_groups=[], policy={})
        session.add(connection)
        session.flush()
        return connection.id


def issue_token(connection_id: int) -> tokens.IssuedToken:
    with db.session() as session:
        return tokens.create(session, connection_id)


@pytest.fixture()
def live(app) -> Iterator[LiveServer]:
    server = LiveServer(app)
    # Locations and $refs must point at the server the client really talks to.
    app.config["BASE_URL"] = server.url
    with server:
        yield server


def connect_client(live: LiveServer) -> ScimClient:
    connection_id = add_connection()
    issued = issue_token(connection_id)
    return ScimClient(live.url + issued.base_path, issued.secret, connection_id)


@pytest.fixture()
def scim(live: LiveServer) -> ScimClient:
    return connect_client(live)


def user_body(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
            "name": {"givenName": "Given", "familyName": "Family"},
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            "active": True, **extra}


def group_body(name: str, members: list[str] = (), **extra: Any) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
            "members": [{"value": m} for m in members], **extra}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": list(operations)}
