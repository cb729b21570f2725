"""App system tokens: the sandbox site accepts them for reads and refuses them for group writes
(as Cloud does), and our client reads a Forge installation's site with the token it holds."""

from __future__ import annotations

import dataclasses

import pytest
import requests

from app import extensions
from sandbox.atlassian.forge_tokens import WRITE_REFUSAL
from sandbox.forge.keys import SigningKey
from tests.forge.helpers import installation
from workers.atlassian.auth import AtlassianHosts
from workers.atlassian.errors import MissingCredentialError
from workers.atlassian.factory import ClientSettings, site_for_installation


def _get(url: str, token: str, **params) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_system_token_reads_groups_and_members(forge_stack):
    inst = forge_stack.install()
    token = forge_stack.forge.invoker.system_token(inst)
    groups = _get(inst.api_base_url + "/rest/api/3/group/bulk", token)
    assert groups.status_code == 200, groups.text
    group_id = groups.json()["values"][0]["groupId"]
    members = _get(inst.api_base_url + "/rest/api/3/group/member", token, groupId=group_id)
    assert members.status_code == 200, members.text


def _add_member(inst, token: str, group_id: str, account_id: str) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.post(inst.api_base_url + "/rest/api/3/group/user", params={"groupId": group_id},
                         json={"accountId": account_id},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_our_manifests_token_may_not_write_groups(forge_stack):
    inst = forge_stack.install()
    group = forge_stack.cloud.site.add_group("engineering")
    answer = _add_member(inst, forge_stack.forge.invoker.system_token(inst), group.group_id,
                         forge_stack.cloud.admin_account_id)
    assert answer.status_code == 401 and "scope does not match" in answer.text
    assert forge_stack.cloud.admin_account_id not in group.members


def test_even_with_write_scopes_the_app_user_is_refused_unless_a_site_admin(forge_stack):
    invoker = forge_stack.forge.invoker
    invoker.manifest = dataclasses.replace(
        invoker.manifest, scopes=invoker.manifest.scopes + ("write:group:jira",))
    inst = forge_stack.install()
    token = invoker.system_token(inst)
    site = forge_stack.cloud.site
    group = site.add_group("engineering")
    answer = _add_member(inst, token, group.group_id, forge_stack.cloud.admin_account_id)
    assert answer.status_code == 403 and WRITE_REFUSAL in answer.text
    assert forge_stack.cloud.admin_account_id not in group.members
    site.make_admin(inst.account_id)  # what Atlassian's staff suggest, by hand
    answer = _add_member(inst, token, group.group_id, forge_stack.cloud.admin_account_id)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("case", ["expired", "other key", "unregistered", "other site"])
def test_bad_system_tokens_are_refused(forge_stack, case):
    inst = forge_stack.install()
    invoker = forge_stack.forge.invoker
    if case == "expired":
        token = invoker.system_token(inst, ttl=-10)
    elif case == "other key":
        key, invoker.key = invoker.key, SigningKey(invoker.key.kid)
        token, invoker.key = invoker.system_token(inst), key
    elif case == "unregistered":
        invoker.uninstall(inst, forge_stack.cloud.admin_auth)
        token = invoker.system_token(inst)
    else:
        inst.cloud_id = "00000000-0000-4000-8000-000000000000"
        token = invoker.system_token(inst)
    answer = _get(forge_stack.cloud.base_url + f"/ex/jira/{forge_stack.cloud.cloud_id}"
                  "/rest/api/3/group/bulk", token)
    assert answer.status_code == 401


def _site(forge_stack, iid: int):  # type: ignore[no-untyped-def]
    cloud = forge_stack.cloud
    settings = ClientSettings(app_key="com.example.usersync",
                              hosts=AtlassianHosts(cloud.base_url, cloud.base_url), allow_private=True)
    return site_for_installation(iid, db=extensions.db, settings=settings,
                                 encrypt=extensions.secrets.encrypt,
                                 decrypt=extensions.secrets.decrypt)


def test_our_client_reads_a_forge_site_with_the_held_token_and_writes_need_a_credential(forge_stack):
    inst = forge_stack.install()
    row = installation(forge_installation_id=inst.installation_id)
    site = _site(forge_stack, row.id)
    names = {g.name for g in site.list_groups()}
    assert names == {g.name for g in forge_stack.cloud.site.sorted_groups()}
    assert site.read.label == "Forge app"
    group = forge_stack.cloud.site.add_group("writers")
    with pytest.raises(MissingCredentialError) as refused:
        site.add_member(group.group_id, forge_stack.cloud.admin_account_id)
    assert "Forge app" in refused.value.message
    reads = forge_stack.cloud.requests.matching("GET", "/group/bulk")
    assert reads and all(r.credential == "forge" for r in reads)


def test_no_held_token_and_no_connect_secret_is_a_clear_error(forge_stack):
    inst = forge_stack.install()
    row = installation(forge_installation_id=inst.installation_id)
    with extensions.db.session() as session:
        live = session.get(type(row), row.id)
        live.system_token_encrypted, live.system_token_expires_at = None, None
    with pytest.raises(MissingCredentialError, match="no current Forge app system token"):
        _site(forge_stack, row.id)
