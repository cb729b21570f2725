"""The admin API with `Authorization: Bearer <FIT>`: who may call, and every refusal a 401/403."""

from __future__ import annotations

import time

import requests

from app.admin.caller import admin_cache


def _get(forge_stack, token: str, path: str = "/api/admin/me") -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(forge_stack.app_url + path, headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def _ui_fit(forge_stack, inst, **changes) -> str:  # type: ignore[no-untyped-def]
    invoker = forge_stack.forge.invoker
    claims = invoker._fit(inst, "jira:adminPage", "usersync-admin-page", ui=True,
                          principal=forge_stack.cloud.admin_account_id)
    claims.update(changes)
    return invoker.key.sign(claims)


def test_a_ui_fit_of_an_admin_is_a_forge_caller(forge_stack):
    inst = forge_stack.install()
    answer = forge_stack.forge.invoker.invoke_remote(inst, "/api/admin/me")
    assert answer.status_code == 200 and answer.json()["via"] == "forge"


def test_a_fit_without_a_principal_is_refused(forge_stack):
    inst = forge_stack.install()
    invoker = forge_stack.forge.invoker
    token = invoker.key.sign(invoker._fit(inst, "core:scheduledTrigger", "usersync-sync-tick"))
    answer = _get(forge_stack, token)
    assert answer.status_code == 401 and "principal" in answer.json()["error"]["message"]


def test_expired_or_foreign_fits_are_refused(forge_stack):
    inst = forge_stack.install()
    now = int(time.time())
    for token in (_ui_fit(forge_stack, inst, iat=now - 600, nbf=now - 600, exp=now - 500),
                  _ui_fit(forge_stack, inst, aud="ari:cloud:ecosystem::app/other")):
        answer = _get(forge_stack, token)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


def test_an_uninstalled_installation_is_refused(forge_stack):
    inst = forge_stack.install()
    forge_stack.forge.invoker.uninstall(inst, forge_stack.cloud.admin_auth)
    answer = _get(forge_stack, _ui_fit(forge_stack, inst))
    assert answer.status_code == 401 and "not installed" in answer.json()["error"]["message"]


def test_a_non_admin_principal_is_forbidden(forge_stack):
    admin_cache.clear()
    inst = forge_stack.install()
    user = forge_stack.cloud.site.add_user("someone@example.com").account_id
    answer = forge_stack.forge.invoker.invoke_remote(inst, "/api/admin/me", account_id=user)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    # asked with the user's own token about the user (Jira shows others' rights to admins only)
    checks = forge_stack.cloud.requests.matching("POST", "/permissions/check")
    assert checks and {r.credential for r in checks} == {"forge-user"}
    assert all(user.encode() in r.body for r in checks)


def test_the_app_token_alone_may_not_ask_about_another_user(forge_stack):
    inst = forge_stack.install()
    token = forge_stack.forge.invoker.system_token(inst)
    answer = requests.post(inst.api_base_url + "/rest/api/3/permissions/check",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10,
                           json={"accountId": forge_stack.cloud.admin_account_id,
                                 "globalPermissions": ["ADMINISTER"]})
    assert answer.status_code == 403
