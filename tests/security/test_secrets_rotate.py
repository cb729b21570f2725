"""`usersync secrets rotate` re-encrypts every stored secret under the first key; a secret no
key decrypts is a clear error for its tenant (CLI, sync run, HTTP), never a 500."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from app import crypto, extensions
from app.cli import main
from app.connect import tenancy
from app.connections import create as create_connection
from app.models import AtlassianCredential, Connection, Installation
from app.models.credential import CredentialKind
from app.secret_rotation import encrypted_columns
from tests.conftest import TEST_KEYS
from tests.connect.tokens import install_payload, request_token
from workers.atlassian.credentials import save_credential
from workers.sync import engine

NEW_KEY = Fernet.generate_key().decode()
LOST_KEY = Fernet.generate_key().decode()
SHARED = "s" * 40


@pytest.fixture()
def stored(app, test_config, monkeypatch):
    """A site with a shared secret, a connection with a secret setting and a write credential,
    all under the old key (TEST_KEYS); the CLI sees the same database."""
    with extensions.db.session() as s:
        tenancy.save_install(s, install_payload("client-r", SHARED), extensions.secrets.encrypt)
        conn = create_connection(s, client_key="client-r", kind="keycloak", name="KC",
                                 encrypt=extensions.secrets.encrypt,
                                 settings={"base_url": "https://idp.example.com", "realm": "corp",
                                           "client_id": "usersync", "client_secret": "kc-secret"})
        cid = conn.id
        iid = conn.installation_id
    save_credential(extensions.db, iid, CredentialKind.API_TOKEN,
                    {"email": "admin@example.com", "api_token": "tok-1"}, extensions.secrets.encrypt)
    monkeypatch.setenv("DATABASE_URL", test_config["DATABASE_URL"])
    monkeypatch.setenv("USERSYNC_INSTANCE_PATH", test_config["INSTANCE_PATH"])
    return {"connection": cid, "installation": iid}


def rotate(keys: list[str]):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["secrets", "rotate"],
                                env={"USERSYNC_SECRET_KEYS": ",".join(keys)})
    assert "Traceback" not in result.output
    return result


def readable_with(key: str) -> dict:
    ring = crypto.KeyRing([key])
    with extensions.db.session() as s:
        inst = s.scalars(select(Installation)).one()
        conn = s.scalars(select(Connection)).one()
        cred = s.scalars(select(AtlassianCredential)).one()
        return {"shared": ring.decrypt(inst.shared_secret_encrypted),
                "connection": conn.get_secrets(ring.decrypt),
                "credential": cred.material(ring.decrypt)["api_token"]}


def test_every_encrypted_column_is_found():
    assert {f"{t.name}.{c.name}" for t, c in encrypted_columns()} >= {
        "installation.shared_secret_encrypted", "connection.secrets_encrypted",
        "atlassian_credential.material_encrypted"}


def test_rotate_moves_every_secret_to_the_first_key(stored):
    result = rotate([NEW_KEY, *TEST_KEYS])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 3 secret(s) under the first key" in result.output
    assert "installation.shared_secret_encrypted 1" in result.output
    assert "connection.secrets_encrypted 1" in result.output
    assert "atlassian_credential.material_encrypted 1" in result.output
    assert "can be removed" in result.output
    # the old key can go: the new one alone reads everything
    assert readable_with(NEW_KEY) == {"shared": SHARED, "connection": {"client_secret": "kc-secret"},
                                      "credential": "tok-1"}


def test_a_secret_no_key_decrypts_is_named_and_left_alone(stored):
    lost = crypto.KeyRing([LOST_KEY]).encrypt(json.dumps({"client_secret": "gone"}))
    with extensions.db.session() as s:
        s.execute(text("UPDATE connection SET secrets_encrypted = :v"), {"v": lost})
    result = rotate([NEW_KEY, *TEST_KEYS])
    assert result.exit_code == 1
    assert "re-encrypted 2 secret(s)" in result.output
    assert (f"1 secret(s) cannot be decrypted with any key and were left as they are: "
            f"connection.secrets_encrypted of row {stored['connection']} "
            f"(installation {stored['installation']})") in result.output
    with extensions.db.session() as s:  # kept, so restoring the lost key still recovers it
        assert s.scalars(select(Connection)).one().secrets_encrypted == lost


def test_a_sync_with_an_unreadable_secret_fails_with_a_reason(stored):
    lost = crypto.KeyRing([LOST_KEY]).encrypt(json.dumps({"client_secret": "gone"}))
    with extensions.db.session() as s:
        s.execute(text("UPDATE connection SET secrets_encrypted = :v"), {"v": lost})
    env = engine.Environment(db=extensions.db, target_for=lambda _i: None,
                             decrypt=extensions.secrets.decrypt, allow_private=True)
    run_id = engine.start_run(extensions.db, stored["connection"], "manual", True)
    assert engine.run_sync(env, run_id) == "failed"
    with extensions.db.session() as s:
        error = s.get(engine.SyncRun, run_id).error
    assert "cannot be decrypted with any key in USERSYNC_SECRET_KEYS" in error


def test_the_cli_says_so_in_one_line(stored, monkeypatch):
    monkeypatch.setenv("USERSYNC_SECRET_KEYS", LOST_KEY)  # the stored secrets' key is gone
    result = CliRunner().invoke(main, ["connections", "test", str(stored["connection"])])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().startswith("Error: a stored secret cannot be decrypted")


def test_a_request_for_a_site_with_an_unreadable_secret_is_503_not_500(client, stored):
    with extensions.db.session() as s:
        s.execute(text("UPDATE installation SET shared_secret_encrypted = :v"),
                  {"v": crypto.KeyRing([LOST_KEY]).encrypt(SHARED)})
    token = request_token("client-r", SHARED, "GET", "/connect/whoami")
    response = client.get("/connect/whoami", headers={"Authorization": f"JWT {token}"})
    assert response.status_code == 503
    assert "cannot read a stored secret" in response.json["error"]
