"""A dry run's site client reads as usual and refuses every write in the HTTP layer, unsent."""

from __future__ import annotations

import pytest

from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import ALICE, ENGINEERING, SiteFactory, make_transport
from workers.atlassian.http import DryRunWrite
from workers.atlassian.memberships import MembershipOp
from workers.errors import Stop


@pytest.mark.parametrize("product", ["jira", "confluence"])
def test_a_read_only_site_reads_but_never_writes(make_site: SiteFactory, cloud: SiteHandle,
                                                  product: str) -> None:
    site = make_site(product, org=True, transport=make_transport(read_only=True))
    assert ENGINEERING in {g.group_id for g in site.list_groups()}
    assert site.is_site_admin(cloud.admin_account_id)  # a read sent as a POST goes through
    cloud.requests.clear()
    with pytest.raises(DryRunWrite) as refused:
        site.create_group("never-made")
    assert isinstance(refused.value, Stop) and "dry run" in refused.value.message
    results = site.apply_memberships([MembershipOp("add", ENGINEERING, ALICE),
                                      MembershipOp("remove", ENGINEERING, ALICE)])
    assert [r.ok for r in results] == [False, False]
    assert isinstance(results[0].error, DryRunWrite) and not results[1].attempted
    with pytest.raises(DryRunWrite):
        site.suspend_access(ALICE)
    assert cloud.requests.writes() == []
