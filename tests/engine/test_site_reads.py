"""A sync reads the site groups it can touch, never the whole site's group list."""

from __future__ import annotations

import pytest

from tests.engine.harness import directory, stack

ALICE = ("u-alice", "alice@example.com", True)
BOB = ("u-bob", "bob@example.com", True)


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
    assert first.counts["site_reads"] == "reconcile"
    lookups = env.cloud.requests.matching("GET", "/rest/api/3/group/bulk")
    named = [r for r in lookups if "groupId=" in r.query or "groupName=" in r.query]
    # the reconcile lists the site's groups once, to read the admin-named groups' members
    pages = -(-len(env.cloud.site.groups) // 50)
    assert named and len(lookups) - len(named) == pages and len(named) <= 4
    env.cloud.requests.clear()
    env.write_directory(directory([ALICE, BOB], {"eng": ["u-alice"], "ops": ["u-bob"]}))
    again = env.sync(cid)
    assert again.status == "succeeded" and again.counts["site_reads"] == "mirror"
    lookups = env.cloud.requests.matching("GET", "/rest/api/3/group/bulk")
    # an ordinary run's look-ups name their groups; none pages through the 300 bystanders
    assert lookups and all("groupId=" in r.query or "groupName=" in r.query for r in lookups)
    assert len(lookups) <= 4
