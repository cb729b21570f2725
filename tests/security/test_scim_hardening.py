"""SCIM hardening: disabled tenants are refused, selector PATCHes are bounded, parser limits hold,
userName uniqueness survives Unicode tricks."""

from __future__ import annotations

from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select

from app.extensions import db
from app.models import Connection, Installation
from app.models.installation import InstallationState
from app.models.scim import ScimGroup, ScimUser
from tests.scim.conftest import add_connection, group_body, issue_token, patch_body, user_body
from workers.queue import queue

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Client:
    """The Flask test client bound to one SCIM endpoint and its bearer token."""

    def __init__(self, flask_client: Any, connection_id: int):
        issued = issue_token(connection_id)
        self.flask = flask_client
        self.base = issued.base_path
        self.headers = {"Authorization": f"Bearer {issued.secret}"}
        self.connection_id = connection_id

    def __call__(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.flask.open(self.base + path, method=method, json=body, headers=self.headers,
                               content_type="application/scim+json", **kwargs)


@pytest.fixture()
def scim(client) -> Client:
    return Client(client, add_connection())


def scim_error(response: Any, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def stored(connection_id: int) -> tuple[int, int]:
    with db.session() as session:
        return (session.scalar(select(func.count()).select_from(ScimUser)
                               .where(ScimUser.connection_id == connection_id)),
                session.scalar(select(func.count()).select_from(ScimGroup)
                               .where(ScimGroup.connection_id == connection_id)))


# ---- High 1: a disabled connection or a site that is not enabled is refused -------------------

def _disable_connection(connection_id: int) -> None:
    with db.session() as session:
        session.get(Connection, connection_id).enabled = False


def _set_site(state: InstallationState):  # type: ignore[no-untyped-def]
    def change(connection_id: int) -> None:
        with db.session() as session:
            connection = session.get(Connection, connection_id)
            session.get(Installation, connection.installation_id).state = state
    return change


REFUSALS = [(_disable_connection, 403), (_set_site(InstallationState.DISABLED), 403),
            (_set_site(InstallationState.UNINSTALLED), 404)]


def _queued(redis_client: Redis, connection_id: int) -> list:
    return [job for job in queue(redis_client).get_jobs()
            if job.func_name == "workers.jobs.sync_connection" and job.args[0] == connection_id]


@pytest.mark.parametrize(("switch_off", "status"), REFUSALS,
                         ids=["connection-disabled", "site-disabled", "site-uninstalled"])
def test_refused_tenants_store_nothing_and_queue_nothing(scim: Client, redis_url: str,
                                                         switch_off, status: int) -> None:
    redis_client = Redis.from_url(redis_url)
    queue(redis_client).empty()
    user = scim("POST", "/Users", user_body("kept@example.com")).get_json()
    group = scim("POST", "/Groups", group_body("kept", [user["id"]])).get_json()
    queue(redis_client).empty()
    with db.session() as session:
        session.get(Connection, scim.connection_id).pending_changes = False
    switch_off(scim.connection_id)

    writes = [("POST", "/Users", user_body("new@example.com")),
              ("POST", "/Groups", group_body("new")),
              ("PUT", f"/Users/{user['id']}", user_body("renamed@example.com")),
              ("PATCH", f"/Users/{user['id']}",
               patch_body({"op": "replace", "path": "active", "value": False})),
              ("PATCH", f"/Groups/{group['id']}",
               patch_body({"op": "remove", "path": "members"})),
              ("DELETE", f"/Users/{user['id']}", None),
              ("DELETE", f"/Groups/{group['id']}", None)]
    reads = [("GET", "/Users", None), ("GET", f"/Users/{user['id']}", None),
             ("GET", "/Groups", None), ("POST", "/.search", {"filter": "userName pr"}),
             ("GET", "/ServiceProviderConfig", None)]
    for method, path, body in writes + reads:
        answer = scim(method, path, body)
        error = scim_error(answer, status)
        assert "kept" not in answer.get_data(as_text=True), (method, path)
        assert error["detail"]
    assert stored(scim.connection_id) == (1, 1)
    with db.session() as session:
        assert session.get(ScimUser, session.scalar(select(ScimUser.pk))).user_name \
            == "kept@example.com"
        assert session.get(Connection, scim.connection_id).pending_changes is False
    assert _queued(redis_client, scim.connection_id) == []


def test_a_bad_token_is_still_401_for_a_disabled_connection(scim: Client) -> None:
    _disable_connection(scim.connection_id)
    answer = scim.flask.get(scim.base + "/Users", headers={"Authorization": "Bearer wrong"})
    scim_error(answer, 401)


def test_re_enabling_serves_the_endpoint_again(scim: Client) -> None:
    _disable_connection(scim.connection_id)
    scim_error(scim("GET", "/Users"), 403)
    with db.session() as session:
        session.get(Connection, scim.connection_id).enabled = True
    assert scim("GET", "/Users").status_code == 200
