"""A connection whose installation holds only an organization API key syncs end to end."""

from __future__ import annotations

from app import extensions
from app.models.credential import CredentialKind
from tests.engine.harness import directory, stack
from workers.atlassian.credentials import delete_credential, save_credential

ANN = ("u-ann", "ann@example.com", True)
ZOE = ("u-zoe", "zoe@example.com", True)


def test_an_org_key_alone_creates_groups_invites_and_moves_members(test_config, tmp_path):
    with stack(test_config, tmp_path) as env:
        env.cloud.site.add_user("ann@example.com", "Ann")
        delete_credential(extensions.db, env.installation_id, CredentialKind.API_TOKEN)
        save_credential(extensions.db, env.installation_id, CredentialKind.ORG_API_KEY,
                        {"org_id": env.cloud.org_id, "api_key": env.cloud.org_api_key},
                        extensions.secrets.encrypt)
        cid = env.connection(directory([ANN, ZOE], {"platform": ["u-ann", "u-zoe"]}),
                             {"policy": {"products": ["jira-software"],
                                         "max_removal_percent": 100}})
        run = env.sync(cid)
        assert run.status == "succeeded", (run.reason, run.error)
        assert env.members("platform") == {"ann@example.com", "zoe@example.com"}
        zoe = env.cloud.site.user_by_email("zoe@example.com")
        assert zoe is not None
        assert zoe.account_id in env.cloud.site.group_by_name("jira-software-users").members
        kinds = {c.kind for c in env.changes(run.id) if c.outcome == "applied"}
        assert {"create_group", "invite_user"} <= kinds
        writes = env.cloud.requests.writes()
        assert writes and {r.credential for r in writes} == {"org-key"}
        assert all(r.path.startswith(f"/admin/v2/orgs/{env.cloud.org_id}/") for r in writes)

        env.write_directory(directory([ANN, ZOE], {"platform": ["u-ann"]}))
        again = env.sync(cid)
        assert again.status == "succeeded", (again.reason, again.error)
        assert env.members("platform") == {"ann@example.com"}
