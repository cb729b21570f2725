"""A captured install token cannot be replayed with another body, an old one cannot undo a newer
install, baseUrl must be an Atlassian site, a moved baseUrl gets no credentials until an admin
confirms it, and the admin page escapes what the install said."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app import config as app_config
from app import create_app, extensions
from app.cli import main
from app.models import Installation
from app.models.credential import CredentialKind
from sandbox.live import LiveServer
from tests.conftest import TEST_BASE_URL, TEST_KEYS
from tests.connect.tokens import (
    install_payload,
    install_token,
    request_token,
)
from workers.atlassian.credentials import load_site_credential, save_credential
from workers.atlassian.errors import AuthError
from workers.atlassian.factory import ClientSettings, site_for_installation

ATLASSIAN = [".atlassian.net", ".jira.com", ".jira-dev.com"]


@pytest.fixture()
def app(test_config, keys):
    test_config["INSTALL_KEYS_URL"] = keys.url + "/"
    test_config["ATLASSIAN_DOMAINS"] = ATLASSIAN
    return create_app(test_config)


def post(client, event: str, payload: dict, token: str):  # type: ignore[no-untyped-def]
    return client.post(f"/{event}", data=json.dumps(payload), content_type="application/json",
                       headers={"Authorization": f"JWT {token}"})


def stored() -> Installation:
    with extensions.db.session() as s:
        return s.scalars(select(Installation).where(Installation.client_key == "client-a")).one()


def secret_of(inst: Installation) -> str:
    return extensions.secrets.decrypt(inst.shared_secret_encrypted)


def test_replayed_install_token_with_another_body_is_refused(client):
    token = install_token("client-a", TEST_BASE_URL)
    assert post(client, "installed", install_payload(secret="genuine"), token).status_code == 204
    attacker = install_payload(secret="attacker", base_url="https://evil.atlassian.net")
    r = post(client, "installed", attacker, token)
    assert r.status_code == 401 and "already used" in r.json["error"]
    inst = stored()
    assert secret_of(inst) == "genuine" and inst.base_url == "https://site-a.atlassian.net"


def test_identical_retry_is_answered_as_done_and_changes_nothing(client):
    token = install_token("client-a", TEST_BASE_URL)
    payload = install_payload(secret="genuine")
    assert post(client, "installed", payload, token).status_code == 204
    before = stored()
    assert post(client, "installed", payload, token).status_code == 204
    assert stored().updated_at == before.updated_at


def test_used_tokens_are_remembered_in_the_database_for_every_process(app, test_config, keys):
    # A second app instance (another gunicorn worker, another machine) sees the same record.
    other = create_app(dict(test_config)).test_client()
    token = install_token("client-a", TEST_BASE_URL)
    assert post(app.test_client(), "installed", install_payload(secret="genuine"), token).status_code == 204
    r = post(other, "installed", install_payload(secret="attacker"), token)
    assert r.status_code == 401
    assert secret_of(stored()) == "genuine"


def test_replayed_uninstall_token_cannot_be_reused(client):
    post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL))
    token = install_token("client-a", TEST_BASE_URL, path="/uninstalled")
    assert post(client, "uninstalled", install_payload(), token).status_code == 204
    post(client, "installed", install_payload(), install_token("client-a", TEST_BASE_URL))
    assert post(client, "uninstalled", install_payload(secret="other"), token).status_code == 401
    assert stored().state == "enabled"


def test_token_older_than_the_stored_install_is_refused(client):
    now = int(time.time())
    assert post(client, "installed", install_payload(secret="newer"),
                install_token("client-a", TEST_BASE_URL, iat=now)).status_code == 204
    older = install_token("client-a", TEST_BASE_URL, iat=now - 60)
    r = post(client, "installed", install_payload(secret="older"), older)
    assert r.status_code == 401 and "issued before" in r.json["error"]
    old_uninstall = install_token("client-a", TEST_BASE_URL, path="/uninstalled", iat=now - 60)
    assert post(client, "uninstalled", install_payload(), old_uninstall).status_code == 401
    inst = stored()
    assert secret_of(inst) == "newer" and inst.state == "enabled"


@pytest.mark.parametrize("base_url", [
    "http://site-a.atlassian.net",  # not https
    "https://evil.example",
    "https://atlassian.net.evil.example",
    "https://evil-atlassian.net",
    "https://site-a.atlassian.net:8443",
    "https://user@site-a.atlassian.net",
    "https://atlassian.net",  # the bare suffix is no site
    "not a url",
])
def test_base_url_must_be_https_on_an_atlassian_domain(client, base_url):
    r = post(client, "installed", install_payload(base_url=base_url),
             install_token("client-a", TEST_BASE_URL))
    assert r.status_code == 400 and "baseUrl" in r.json["error"]
    with extensions.db.session() as s:
        assert s.scalars(select(Installation)).first() is None


@pytest.mark.parametrize("base_url", ["https://site-a.atlassian.net", "https://acme.jira.com",
                                      "https://dev-site.jira-dev.com/wiki", "https://SITE-A.Atlassian.net"])
def test_atlassian_sites_are_accepted(client, base_url):
    r = post(client, "installed", install_payload(base_url=base_url),
             install_token("client-a", TEST_BASE_URL))
    assert r.status_code == 204, r.json


def test_domain_list_defaults_and_development_leniency():
    assert app_config.load({})["ATLASSIAN_DOMAINS"] is None  # development: any (the sandbox)
    assert app_config.load({"USERSYNC_ATLASSIAN_DOMAINS": "atlassian.net, .jira.com"})[
        "ATLASSIAN_DOMAINS"] == [".atlassian.net", ".jira.com"]
    production = {"USERSYNC_ENV": "production", "DATABASE_URL": "postgresql://x/y",
                  "REDIS_URL": "redis://x", "USERSYNC_BASE_URL": "https://app.example",
                  "USERSYNC_SECRET_KEYS": TEST_KEYS[0]}
    assert app_config.load(production)["ATLASSIAN_DOMAINS"] == ATLASSIAN
    assert app_config.load(dict(production, USERSYNC_ATLASSIAN_DOMAINS="*"))["ATLASSIAN_DOMAINS"] is None


def test_admin_page_escapes_what_the_install_said(test_config, keys, tmp_path):
    test_config["INSTALL_KEYS_URL"] = keys.url + "/"  # development: any baseUrl is accepted
    (tmp_path / "index.html").write_text("<html><head></head><body>admin page</body></html>")
    test_config["ADMIN_UI_DIST"] = str(tmp_path)
    client = create_app(test_config).test_client()
    hostile = 'https://site-a.atlassian.net/"><script>alert(1)</script>'
    payload = install_payload(secret="s" * 48, base_url=hostile)
    assert post(client, "installed", payload, install_token("client-a", TEST_BASE_URL)).status_code == 204
    token = request_token("client-a", "s" * 48, "GET", "/admin", qsh_value="context-qsh")
    page = client.get(f"/admin?jwt={token}").get_data(as_text=True)
    # The page is the static bundle: nothing the install said is written into it.
    assert "admin page" in page and "<script>" not in page and "site-a" not in page


def test_moved_base_url_gets_no_api_token_until_an_admin_confirms(test_config, keys, monkeypatch):
    calls: list[str] = []
    from flask import Flask, request

    attacker = Flask("attacker")

    @attacker.route("/<path:anything>", methods=["GET", "POST", "PUT", "DELETE"])
    def record(anything: str):  # type: ignore[no-untyped-def]
        calls.append(request.headers.get("Authorization", ""))
        return "{}", 200

    test_config["INSTALL_KEYS_URL"] = keys.url + "/"
    client = create_app(test_config).test_client()
    with LiveServer(attacker) as evil:
        assert post(client, "installed", install_payload(secret="s" * 48),
                    install_token("client-a", TEST_BASE_URL)).status_code == 204
        iid = stored().id
        save_credential(extensions.db, iid, CredentialKind.API_TOKEN,
                        {"email": "admin@example.com", "api_token": "site-admin-token"},
                        extensions.secrets.encrypt)
        # A later, validly signed install names another host (a rename, or a replay).
        assert post(client, "installed", install_payload(secret="t" * 48, base_url=evil.url),
                    install_token("client-a", TEST_BASE_URL)).status_code == 204
        inst = stored()
        assert inst.base_url == evil.url and not inst.base_url_confirmed
        with pytest.raises(AuthError, match="confirm-url client-a"):
            load_site_credential(extensions.db, iid, CredentialKind.API_TOKEN, extensions.secrets.decrypt)
        settings = ClientSettings(app_key="com.example.usersync", allow_private=True)
        with pytest.raises(AuthError, match="baseUrl changed"):
            site_for_installation(iid, db=extensions.db, settings=settings,
                                  encrypt=extensions.secrets.encrypt, decrypt=extensions.secrets.decrypt)
        assert calls == []  # nothing, least of all the API token, went to the new host

        for key, value in {"DATABASE_URL": test_config["DATABASE_URL"],
                           "USERSYNC_SECRET_KEYS": ",".join(TEST_KEYS),
                           "USERSYNC_INSTANCE_PATH": test_config["INSTANCE_PATH"]}.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(main, ["installations", "confirm-url", "client-a"])
        assert result.exit_code == 0 and f"confirmed {evil.url}" in result.output
        assert stored().base_url_confirmed
        site = site_for_installation(iid, db=extensions.db, settings=settings,
                                     encrypt=extensions.secrets.encrypt,
                                     decrypt=extensions.secrets.decrypt)
        assert site.write is not None and site.write.base_url == evil.url
        unknown = CliRunner().invoke(main, ["installations", "confirm-url", "client-zzz"])
        assert unknown.exit_code != 0 and "no installed site" in unknown.output


def test_concurrent_replays_of_one_token_change_the_site_once(test_config, keys):
    import threading

    import requests

    test_config.update(INSTALL_KEYS_URL=keys.url + "/", ATLASSIAN_DOMAINS=ATLASSIAN)

    class Late:
        app = None

        def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
            return self.app(environ, start_response)

    late = Late()
    with LiveServer(late) as server:
        test_config["BASE_URL"] = server.url
        late.app = create_app(test_config)
        token = install_token("client-a", server.url)
        secrets = [f"secret-{i}" for i in range(6)]
        statuses: dict[str, int] = {}
        start = threading.Barrier(len(secrets))

        def send(secret: str) -> None:
            start.wait()
            statuses[secret] = requests.post(
                server.url + "/installed", data=json.dumps(install_payload(secret=secret)), timeout=30,
                headers={"Authorization": f"JWT {token}", "Content-Type": "application/json"}).status_code

        threads = [threading.Thread(target=send, args=(s,)) for s in secrets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    winners = [s for s, status in statuses.items() if status == 204]
    assert len(winners) == 1 and sorted(statuses.values()) == [204] + [401] * 5
    assert secret_of(stored()) == winners[0]
