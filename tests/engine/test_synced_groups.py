"""Groups Atlassian's own IdP provisioning owns are never planned for writes; the preview says why."""

from __future__ import annotations

import json

import pytest

from app import extensions
from app.models.credential import CredentialKind
from tests.engine.harness import directory, stack
from workers.atlassian.credentials import save_credential

ANN = ("u-ann", "ann@example.com", True)


@pytest.fixture()
def env(test_config, tmp_path):
    with stack(test_config, tmp_path) as s:
        s.cloud.site.add_user("ann@example.com", "Ann")
        synced = s.cloud.site.add_group("engineering")
        synced.external_synced = True
        yield s


def skipped(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s["name"]: s["reason"] for s in json.loads(run.plan)["groups"]["skipped"]}


def test_a_group_synced_from_an_idp_is_left_alone_and_the_preview_says_why(env):
    save_credential(extensions.db, env.installation_id, CredentialKind.ORG_API_KEY,
                    {"org_id": env.cloud.org_id, "api_key": env.cloud.org_api_key},
                    extensions.secrets.encrypt)
    cid = env.connection(directory([ANN], {"engineering": ["u-ann"], "ops": ["u-ann"]}),
                         {"policy": {"adopt_existing_groups": True}})
    preview = env.sync(cid, dry_run=True)
    assert skipped(preview) == {"engineering": "synced_group"}
    assert any("identity provider" in n["message"] for n in json.loads(preview.plan)["notices"])
    run = env.sync(cid)
    assert run.status == "succeeded", (run.reason, run.error)
    assert env.members("engineering") == set() and env.members("ops") == {"ann@example.com"}
    assert env.cloud.requests.matching("POST", "/groups/search")


def test_without_an_org_key_the_site_refuses_and_the_run_says_so(env):
    cid = env.connection(directory([ANN], {"engineering": ["u-ann"]}),
                         {"policy": {"adopt_existing_groups": True}})
    run = env.sync(cid)
    failed = [c for c in env.changes(run.id) if c.outcome == "failed"]
    assert failed and "synced from an identity provider" in (failed[0].message or "")
    assert env.members("engineering") == set()
