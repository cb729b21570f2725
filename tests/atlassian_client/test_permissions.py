"""Which credential may do what: the app's JWT reads, writes need what the admin connected."""

from __future__ import annotations

import pytest

from sandbox.atlassian.testing import SiteHandle
from tests.atlassian_client.conftest import CAROL, ENGINEERING, SiteFactory
from workers.atlassian.errors import (
    AuthError,
    MissingCredentialError,
    PermissionDenied,
    error_for_status,
)
from workers.atlassian.memberships import MembershipOp
from workers.errors import Transient


@pytest.mark.parametrize("product", ["jira", "confluence"])
def test_connect_jwt_write_is_refused_with_what_to_connect(
        make_site: SiteFactory, cloud: SiteHandle, product: str) -> None:
    site = make_site(product, write=None)
    with pytest.raises(MissingCredentialError) as err:
        site.add_member(ENGINEERING, CAROL)
    message = str(err.value)
    assert "connect a site-admin account (OAuth) or an API token in the admin page" in message
    assert err.value.status == 403 and "INACCESSIBLE" in err.value.remote_message
    assert [(r.credential, r.status) for r in cloud.requests.writes()] == [("jwt", 403)]
    assert CAROL not in cloud.site.group(ENGINEERING).members


def test_a_refused_write_stops_a_batch_and_skips_the_rest(make_site: SiteFactory,
                                                          cloud: SiteHandle) -> None:
    ops = [MembershipOp("add", ENGINEERING, CAROL)] * 5
    results = make_site("jira", write=None, concurrency=1).apply_memberships(ops)
    assert [r.outcome for r in results] == ["failed"] + ["skipped"] * 4
    assert all(isinstance(r.error, MissingCredentialError) for r in results)
    assert len(cloud.requests.writes()) == 1


def test_org_operations_need_the_org_key(make_site: SiteFactory, cloud: SiteHandle) -> None:
    with pytest.raises(MissingCredentialError, match="organization API key"):
        make_site("jira").suspend_access(CAROL)
    assert not cloud.requests.matching("POST", "/admin/")


def test_wrong_api_token_is_an_auth_error(make_site: SiteFactory, cloud: SiteHandle) -> None:
    cloud.site.user_by_email(cloud.admin_email).api_token = "changed-by-the-admin"
    with pytest.raises(AuthError) as err:
        make_site("jira").add_member(ENGINEERING, CAROL)
    assert err.value.status == 401 and err.value.operation == "add_member"


def test_error_taxonomy() -> None:
    assert isinstance(error_for_status("x", 403, {"errorMessages": ["no"]}), PermissionDenied)
    err = error_for_status("create_group", 400, {"statusCode": 400, "message": "bad name"})
    assert err.remote_message == "bad name" and "create_group" in str(err)
    assert isinstance(error_for_status("x", 503, ""), Transient)
    assert not isinstance(error_for_status("x", 404, None), Transient)
    org = error_for_status("x", 404, {"errors": [{"title": "Not Found", "detail": "gone"}]})
    assert org.remote_message == "Not Found gone"
