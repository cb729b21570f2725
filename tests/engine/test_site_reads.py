"""A sync reads the site groups it can touch, never the whole site's group list."""

from __future__ import annotations

import pytest

from tests.engine.harness import directory, stack

ALICE = ("u-alice", "alice@example.com", True)


@pytest.fixture()
def env(test_config, tmp_path):
    with stack(test_config, tmp_path) as s:
        s.cloud.site.add_user("alice@example.com", "alice")
        for i in range(300):
            s.cloud.site.add_group(f"bystander-{i:03d}")
        yield s


def test_runs_look_up_their_groups_by_id_and_name(env):
    cid = env.connection(directory([ALICE], {"eng": ["u-alice"]}))
    first = env.sync(cid)
    assert first.status == "succeeded", (first.reason, first.error)
    again = env.sync(cid)
    assert again.status == "succeeded" and again.ops_total == 0
    lookups = env.cloud.requests.matching("GET", "/rest/api/3/group/bulk")
    # every look-up names its groups; none pages through the 300 bystanders
    assert lookups and all("groupId=" in r.query or "groupName=" in r.query for r in lookups)
    assert len(lookups) <= 4
