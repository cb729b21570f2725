"""The credential model and store on the configured database (SQLite, or PostgreSQL via env)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from app.models.credential import AtlassianCredential, CredentialKind, CredentialStatus
from app.models.installation import Installation
from tests.atlassian_client.conftest import Store
from workers.atlassian.credentials import (
    delete_credential,
    is_fresh,
    load_credential,
    save_credential,
)


def test_migration_matches_the_model(store: Store) -> None:
    columns = {c["name"]: c for c in inspect(store.db.engine).get_columns("atlassian_credential")}
    assert set(columns) == set(AtlassianCredential.__table__.columns.keys())
    assert columns["last_error"]["nullable"] and not columns["version"]["nullable"]
    uniques = inspect(store.db.engine).get_unique_constraints("atlassian_credential")
    assert [u["column_names"] for u in uniques] == [["installation_id", "kind"]]


def test_round_trip_is_encrypted_and_versioned(store: Store, installation_id: int) -> None:
    material = {"email": "admin@example.com", "api_token": "tok-very-secret"}
    assert save_credential(store.db, installation_id, CredentialKind.API_TOKEN, material,
                           store.encrypt) == 1
    with store.db.session() as session:
        row = session.query(AtlassianCredential).filter_by(installation_id=installation_id).one()
        assert "tok-very-secret" not in row.material_encrypted
        raw = session.execute(text("SELECT kind, status FROM atlassian_credential WHERE id = :id"),
                              {"id": row.id}).one()
        assert tuple(raw) == ("api_token", "active")
        assert "admin@example.com" not in row.material_encrypted
    assert save_credential(store.db, installation_id, CredentialKind.API_TOKEN,
                           {**material, "api_token": "rotated"}, store.encrypt) == 2
    loaded = load_credential(store.db, installation_id, CredentialKind.API_TOKEN, store.decrypt)
    assert loaded is not None and loaded.material["api_token"] == "rotated"
    assert loaded.version == 2 and loaded.status == CredentialStatus.ACTIVE
    assert load_credential(store.db, installation_id, CredentialKind.ORG_API_KEY,
                           store.decrypt) is None
    assert delete_credential(store.db, installation_id, CredentialKind.API_TOKEN)
    assert not delete_credential(store.db, installation_id, CredentialKind.API_TOKEN)


def test_one_credential_per_kind(store: Store, installation_id: int) -> None:
    with pytest.raises(IntegrityError), store.db.session() as session:
        for _ in range(2):
            session.add(AtlassianCredential(installation_id=installation_id,
                                            kind=CredentialKind.OAUTH, material_encrypted="x"))
        session.flush()


def test_credentials_go_with_their_installation(store: Store, installation_id: int) -> None:
    save_credential(store.db, installation_id, CredentialKind.ORG_API_KEY,
                    {"org_id": "o", "api_key": "k"}, store.encrypt)
    with store.db.session() as session:
        session.delete(session.get(Installation, installation_id))
    with store.db.session() as session:
        assert session.query(AtlassianCredential).filter_by(
            installation_id=installation_id).count() == 0


def test_freshness_keeps_a_margin() -> None:
    assert is_fresh({"access_token": "a", "obtained_at": 0, "expires_at": 3600}, 3000)
    assert not is_fresh({"access_token": "a", "obtained_at": 0, "expires_at": 3600}, 3550)
    assert not is_fresh({"access_token": "a", "obtained_at": 0, "expires_at": 4}, 3.5)
    assert not is_fresh({"obtained_at": 0, "expires_at": 3600}, 1)
