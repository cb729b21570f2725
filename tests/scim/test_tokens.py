"""Bearer tokens: hashed at rest, several live for rotation, revocable, 401 in the SCIM shape; the CLI."""

from __future__ import annotations

import requests
from click.testing import CliRunner
from sqlalchemy import select

from app.extensions import db
from app.models.scim import ScimEndpoint, ScimToken
from app.scim import tokens
from app.scim.cli import scim_token
from tests.scim.conftest import ScimClient, add_connection, issue_token, user_body

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def status(url: str, token: str | None, scheme: str = "Bearer") -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return requests.get(url + "/Users", headers=headers, timeout=10)


def test_requests_without_a_live_token_get_401_with_an_error_body(scim: ScimClient) -> None:
    for token, scheme in ((None, "Bearer"), ("", "Bearer"), ("wrong", "Bearer"),
                          (scim.token, "Basic"), (scim.token[:-1], "Bearer")):
        response = status(scim.base_url, token, scheme)
        assert response.status_code == 401
        assert response.json()["schemas"] == [ERROR] and response.json()["status"] == "401"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert status(scim.base_url, scim.token).status_code == 200


def test_tokens_are_stored_hashed_and_the_endpoint_id_is_opaque(scim: ScimClient) -> None:
    with db.session() as session:
        stored = session.scalars(select(ScimToken.token_hash)).all()
        endpoint = session.scalar(select(ScimEndpoint).where(
            ScimEndpoint.connection_id == scim.connection_id))
    assert tokens.hash_token(scim.token) in stored and scim.token not in stored
    assert endpoint.endpoint_id in scim.base_url
    assert f"/scim/v2/{scim.connection_id}/" not in scim.base_url + "/"
    assert len(endpoint.endpoint_id) >= 20


def test_rotation_keeps_both_tokens_until_one_is_revoked(scim: ScimClient) -> None:
    second = issue_token(scim.connection_id)
    assert scim.base_url.endswith(second.base_path)
    assert status(scim.base_url, scim.token).status_code == 200
    assert status(scim.base_url, second.secret).status_code == 200
    with db.session() as session:
        revoked = tokens.revoke(session, scim.connection_id, scim.token)
    assert len(revoked) == 1
    assert status(scim.base_url, scim.token).status_code == 401
    assert status(scim.base_url, second.secret).status_code == 200


def test_a_token_only_opens_its_own_endpoint(scim: ScimClient, live) -> None:
    other = add_connection()
    other_token = issue_token(other)
    assert status(scim.base_url, other_token.secret).status_code == 401
    assert status(live.url + other_token.base_path, scim.token).status_code == 401
    assert status(live.url + "/scim/v2/no-such-endpoint", scim.token).status_code == 401


def test_tokens_only_for_scim_connections(app) -> None:
    connection_id = add_connection(kind="okta")
    with db.session() as session:
        try:
            tokens.create(session, connection_id)
        except tokens.TokenError as error:
            assert "not 'scim_push'" in str(error)
        else:
            raise AssertionError("a token was issued for an okta connection")


def test_cli_create_list_and_revoke(app, test_config: dict, live) -> None:
    connection_id = add_connection()
    env = {"DATABASE_URL": test_config["DATABASE_URL"], "USERSYNC_BASE_URL": live.url,
           "USERSYNC_SECRET_KEYS": test_config["SECRET_KEYS"][0],
           "USERSYNC_INSTANCE_PATH": test_config["INSTANCE_PATH"]}
    runner = CliRunner()
    created = runner.invoke(scim_token, ["create", str(connection_id)], env=env)
    assert created.exit_code == 0, created.output
    url, secret = created.output.strip().splitlines()
    assert url.startswith(live.url + "/scim/v2/")
    client = ScimClient(url, secret, connection_id)
    assert client.post("/Users", user_body("cli@example.com")).status_code == 201
    listed = runner.invoke(scim_token, ["list", str(connection_id)], env=env)
    assert secret[:8] in listed.output and "live" in listed.output
    revoked = runner.invoke(scim_token, ["revoke", str(connection_id), "all"], env=env)
    assert revoked.exit_code == 0 and "revoked 1" in revoked.output
    assert client.get("/Users").status_code == 401
    again = runner.invoke(scim_token, ["revoke", str(connection_id), "all"], env=env)
    assert again.exit_code != 0 and "no live token" in again.output
    wrong = runner.invoke(scim_token, ["create", "999999"], env=env)
    assert wrong.exit_code != 0 and "no connection" in wrong.output
