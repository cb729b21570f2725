"""Each IdP connector's fetch through the whole sync engine into the sandbox Atlassian site:
groups and flattened members land, a leave and a join follow, and a settled directory writes nothing."""

from __future__ import annotations

import pytest

from tests.engine.harness import Stack, stack
from tests.engine.sources_fixtures import (
    CONNECTORS,
    HAS_ACCOUNT,
    expected_groups,
    leave_and_join,
    person,
    scenario,
)

# The production create path validates settings with the source's schema before the row (and so
# its id) exists, while ScimPushSettings requires the connection id the engine fills in later.
KINDS = sorted(CONNECTORS)


def assert_site_matches(site: Stack, before: set[str], expected: dict[str, set[str]]) -> None:
    """The site has exactly the groups it had plus the expected ones, each with exactly its members."""
    assert site.group_names() == before | set(expected)
    assert {name: site.members(name) for name in expected} == expected


def assert_succeeded(site: Stack, connection_id: int) -> int:
    run = site.sync(connection_id)
    assert run.status == "succeeded", (run.status, run.reason, run.error)
    return run.ops_total


@pytest.mark.parametrize("kind", KINDS)
def test_connector_syncs_groups_changes_and_settles(kind, test_config, tmp_path):
    connector, directory = CONNECTORS[kind], scenario()
    with stack(test_config, tmp_path) as site, connector.serve(site, directory) as served:
        for username in HAS_ACCOUNT:
            p = person(directory, username)
            site.cloud.site.add_user(p.email, p.display_name)
        before = site.group_names()

        assert assert_succeeded(site, served.connection_id) > 0
        first = expected_groups(directory, connector.nests)
        assert first["ops"] == {"carol@example.com", "alice@example.com"}  # dave is disabled
        assert_site_matches(site, before, first)

        leave_and_join(directory)
        served.publish()
        assert assert_succeeded(site, served.connection_id) > 0
        second = expected_groups(directory, connector.nests)
        assert second != first
        assert_site_matches(site, before, second)
        assert site.cloud.site.user_by_email("erin@example.com") is not None  # invited on joining

        writes = len(site.cloud.requests.writes())
        assert assert_succeeded(site, served.connection_id) == 0
        assert len(site.cloud.requests.writes()) == writes
