"""Connection settings: validated by the source's schema, secrets encrypted apart and never shown."""

import json

import pytest
from sqlalchemy import text

from app import extensions
from app.connect import tenancy
from app.connections import ConnectionInvalid, create, describe
from tests.connect.tokens import install_payload

SECRET = "kc-client-secret-value-123"


@pytest.fixture()
def client_key(app):
    with extensions.db.session() as s:
        tenancy.save_install(s, install_payload("client-s"), extensions.secrets.encrypt)
    return "client-s"


def test_secret_is_encrypted_apart_and_never_described(client_key):
    with extensions.db.session() as s:
        conn = create(s, client_key=client_key, kind="keycloak", name="KC", encrypt=extensions.secrets.encrypt,
                      settings={"base_url": "https://idp.example.com", "realm": "corp",
                                "client_id": "usersync", "client_secret": SECRET})
        cid = conn.id
        assert "client_secret" not in conn.settings
        assert conn.get_secrets(extensions.secrets.decrypt) == {"client_secret": SECRET}
        assert SECRET not in json.dumps(describe(conn))
    with extensions.db.session() as s:
        raw = s.execute(text("SELECT settings, secrets_encrypted FROM connection WHERE id = :i"),
                        {"i": cid}).one()
        assert SECRET not in str(raw.settings) and SECRET not in raw.secrets_encrypted


def test_settings_are_validated_by_the_sources_schema(client_key):
    with extensions.db.session() as s, pytest.raises(ConnectionInvalid, match="realm"):
        create(s, client_key=client_key, kind="keycloak", name="KC", encrypt=extensions.secrets.encrypt,
               settings={"base_url": "https://idp.example.com", "client_id": "x", "client_secret": "y"})
