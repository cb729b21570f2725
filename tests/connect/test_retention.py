"""Uninstall forgets the write credentials and SCIM tokens at once; the rest of a site's data is
deleted when the retention period has passed, by the daily job or the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import extensions
from app.models import AtlassianCredential, Connection, Installation, ScimToken
from app.models.credential import CredentialKind
from app.scim import tokens
from tests.conftest import TEST_BASE_URL
from tests.connect.lifecycle import app_for
from tests.connect.tokens import (
    install_payload,
    install_token,
)
from workers.atlassian.credentials import save_credential
from workers.retention import purge_uninstalled


@pytest.fixture()
def app(test_config, keys):  # type: ignore[no-untyped-def]
    return app_for(test_config, keys)

def lifecycle(client, event: str, client_key: str = "client-a"):  # type: ignore[no-untyped-def]
    return client.post(f"/{event}", data=json.dumps(install_payload(client_key)),
                       content_type="application/json", headers={
                           "Authorization": f"JWT {install_token(client_key, TEST_BASE_URL, path=f'/{event}')}"})


def site_with_data(client, client_key: str = "client-a") -> int:  # type: ignore[no-untyped-def]
    assert lifecycle(client, "installed", client_key).status_code == 204
    with extensions.db.session() as s:
        inst = s.scalars(select(Installation).where(Installation.client_key == client_key)).one()
        conn = Connection(installation_id=inst.id, name="push", kind="scim_push", settings={}, mapping={},
                          filters={}, default_groups=[], policy={})
        s.add(conn)
        s.flush()
        tokens.create(s, conn.id)
        iid = inst.id
    save_credential(extensions.db, iid, CredentialKind.API_TOKEN,
                    {"email": "admin@example.com", "api_token": "t"}, extensions.secrets.encrypt)
    return iid


def count(model, **where) -> int:  # type: ignore[no-untyped-def]
    with extensions.db.session() as s:
        stmt = select(func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return s.scalar(stmt)


def test_uninstall_removes_write_credentials_and_scim_tokens(client):
    iid = site_with_data(client)
    other = site_with_data(client, "client-b")
    assert lifecycle(client, "uninstalled").status_code == 204
    assert count(AtlassianCredential, installation_id=iid) == 0
    assert count(Connection, installation_id=iid) == 1  # kept for the retention period
    assert count(ScimToken) == 1  # client-b's
    assert count(AtlassianCredential, installation_id=other) == 1


def test_purge_deletes_only_sites_uninstalled_past_the_retention(client):
    old = site_with_data(client)
    recent = site_with_data(client, "client-b")
    live = site_with_data(client, "client-c")
    lifecycle(client, "uninstalled")
    lifecycle(client, "uninstalled", "client-b")
    with extensions.db.session() as s:
        s.get(Installation, old).uninstalled_at = datetime.now(UTC) - timedelta(days=31)
        s.get(Installation, recent).uninstalled_at = datetime.now(UTC) - timedelta(days=29)
    with extensions.db.session() as s:
        assert purge_uninstalled(s, 30) == ["client-a"]
    assert count(Installation, id=old) == 0 and count(Connection, installation_id=old) == 0
    assert count(Installation, id=recent) == 1 and count(Installation, id=live) == 1
    assert count(Connection, installation_id=live) == 1


def test_reinstall_within_the_retention_finds_the_data(client):
    iid = site_with_data(client)
    lifecycle(client, "uninstalled")
    assert lifecycle(client, "installed").status_code == 204
    assert count(Connection, installation_id=iid) == 1
    with extensions.db.session() as s:
        assert purge_uninstalled(s, 0) == []


def test_purge_command(app, client, runner):
    iid = site_with_data(client)
    lifecycle(client, "uninstalled")
    with extensions.db.session() as s:
        s.get(Installation, iid).uninstalled_at = datetime.now(UTC) - timedelta(days=3)
    kept = runner.invoke(args=["installations", "purge-uninstalled"])
    assert kept.exit_code == 0 and "purged 0 installation(s) uninstalled over 30 days" in kept.output
    app.config["UNINSTALLED_RETENTION_DAYS"] = 2
    gone = runner.invoke(args=["installations", "purge-uninstalled"])
    assert gone.exit_code == 0 and "purged 1 installation(s)" in gone.output and "client-a" in gone.output
    assert count(Installation, id=iid) == 0
