"""HTTP Basic API tokens, and the OAuth 2.0 (3LO) server with its api.atlassian.com routes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.atlassian.testing import SiteHandle

from .conftest import DAVE, ENGINEERING

REDIRECT = "https://app.example.com/oauth/callback"
CLIENT, SECRET = "client-123", "client-secret-456"


def test_basic_admin_non_admin_and_wrong_token(cloud):
    url = cloud.url("/rest/api/3/group/bulk")
    assert requests.get(url, auth=cloud.admin_auth, timeout=5).status_code == 200
    dave = ("dave@example.com", "dave-token")
    assert requests.get(url, auth=dave, timeout=5).status_code == 403
    assert requests.post(cloud.url("/rest/api/3/group"), json={"name": "x"}, auth=dave,
                         timeout=5).status_code == 403
    search = requests.get(cloud.url("/rest/api/3/user/search"), params={"query": "dave"},
                          auth=dave, timeout=5)
    assert search.status_code == 200 and search.json()[0]["accountId"] == DAVE
    assert requests.get(url, auth=("dave@example.com", "wrong"), timeout=5).status_code == 401
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer abc"},
                        timeout=5).status_code == 401
    assert "x" not in {g.name for g in cloud.site.groups.values()}


def authorize(cloud: SiteHandle, scope: str) -> dict:
    """Run the code flow end to end and return the token response."""
    cloud.register_oauth_client(CLIENT, SECRET, [REDIRECT])
    consent = requests.get(cloud.url("/authorize"), allow_redirects=False, timeout=5, params={
        "audience": "api.atlassian.com", "client_id": CLIENT, "scope": scope,
        "redirect_uri": REDIRECT, "state": "xyz", "response_type": "code",
        "prompt": "consent"})
    assert consent.status_code == 302
    location = urlsplit(consent.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    token = requests.post(cloud.url("/oauth/token"), timeout=5, json={
        "grant_type": "authorization_code", "client_id": CLIENT, "client_secret": SECRET,
        "code": query["code"][0], "redirect_uri": REDIRECT})
    assert token.status_code == 200, token.text
    return token.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refresh(cloud: SiteHandle, refresh_token: str) -> requests.Response:
    return requests.post(cloud.url("/oauth/token"), timeout=5, data={
        "grant_type": "refresh_token", "client_id": CLIENT, "client_secret": SECRET,
        "refresh_token": refresh_token})


def test_code_flow_accessible_resources_and_scoped_calls(cloud):
    tokens = authorize(cloud, "read:jira-user manage:jira-configuration offline_access")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert "refresh_token" in tokens
    headers = bearer(tokens["access_token"])
    resources = requests.get(cloud.url("/oauth/token/accessible-resources"), headers=headers,
                             timeout=5).json()
    assert resources[0]["id"] == cloud.cloud_id and resources[0]["url"] == cloud.base_url
    assert set(resources[0]) == {"id", "url", "name", "scopes", "avatarUrl"}
    groups = requests.get(cloud.jira_api_url("/rest/api/3/group/bulk"), headers=headers,
                          timeout=5)
    assert groups.status_code == 200
    created = requests.post(cloud.jira_api_url("/rest/api/3/group/user"), headers=headers,
                            params={"groupId": ENGINEERING}, json={"accountId": DAVE}, timeout=5)
    assert created.status_code == 201 and DAVE in cloud.site.group(ENGINEERING).members
    wrong_cloud = requests.get(f"{cloud.base_url}/ex/jira/not-my-cloud/rest/api/3/group/bulk",
                               headers=headers, timeout=5)
    assert wrong_cloud.status_code == 404
    wrong_product = requests.get(cloud.jira_api_url("/wiki/rest/api/group"), headers=headers,
                                 timeout=5)
    assert wrong_product.status_code == 404
    on_site = requests.get(cloud.url("/rest/api/3/group/bulk"), headers=headers, timeout=5)
    assert on_site.status_code == 401
    logged = cloud.requests.matching("POST", "/ex/jira/")
    assert logged[0].credential == "oauth"


def test_scopes_limit_what_a_token_may_do(cloud):
    headers = bearer(authorize(cloud, "read:jira-user read:confluence-groups")["access_token"])
    write = requests.post(cloud.jira_api_url("/rest/api/3/group"), headers=headers,
                          json={"name": "nope"}, timeout=5)
    assert write.status_code == 401 and "scope does not match" in write.text
    wiki = cloud.confluence_api_url("/wiki/rest/api/group")
    assert requests.get(wiki, headers=headers, timeout=5).status_code == 200
    wiki_write = requests.post(wiki, headers=headers, json={"name": "nope"}, timeout=5)
    assert wiki_write.status_code == 401 and "write:confluence-groups" in wiki_write.text
    assert requests.get(cloud.url("/oauth/token/accessible-resources"),
                        timeout=5).status_code == 401


def test_token_of_a_non_admin_cannot_write(cloud):
    cloud.oauth.consenting_account_id = DAVE
    headers = bearer(authorize(cloud, "manage:jira-configuration")["access_token"])
    write = requests.post(cloud.jira_api_url("/rest/api/3/group"), headers=headers,
                          json={"name": "nope"}, timeout=5)
    assert write.status_code == 403


def test_refresh_rotates_and_a_late_reuse_invalidates_the_grant(cloud):
    assert cloud.sandbox.oauth.reuse_interval == 600  # Atlassian's 10-minute leeway
    first = authorize(cloud, "read:jira-user offline_access")
    second = refresh(cloud, first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()["refresh_token"]
    assert rotated != first["refresh_token"]
    assert refresh(cloud, first["refresh_token"]).status_code == 200  # within the leeway
    cloud.clock.advance(601)
    late = refresh(cloud, first["refresh_token"])
    assert late.status_code == 403
    assert late.json() == {"error": "invalid_grant",
                           "error_description": "Unknown or invalid refresh token."}
    # a reuse after the leeway looks like theft: every token of the grant is dead now
    assert refresh(cloud, rotated).status_code == 403
    url = cloud.jira_api_url("/rest/api/3/myself")
    assert requests.get(url, headers=bearer(second.json()["access_token"]),
                        timeout=5).status_code == 401


def test_refresh_tokens_expire_after_90_idle_days_and_grants_after_365(cloud):
    day = 86400
    idle = authorize(cloud, "read:jira-user offline_access")
    cloud.clock.advance(91 * day)
    assert refresh(cloud, idle["refresh_token"]).status_code == 403
    kept = authorize(cloud, "read:jira-user offline_access")["refresh_token"]
    for _ in range(4):  # used every 80 days, it lives until the grant's 365th day
        cloud.clock.advance(80 * day)
        answer = refresh(cloud, kept)
        assert answer.status_code == 200
        kept = answer.json()["refresh_token"]
    cloud.clock.advance(50 * day)  # day 370 of the grant, 50 days idle
    assert refresh(cloud, kept).status_code == 403


def test_access_tokens_expire_and_grants_can_be_revoked(cloud):
    cloud.oauth.expires_in = 60
    tokens = authorize(cloud, "read:jira-user offline_access")
    url = cloud.jira_api_url("/rest/api/3/myself")
    assert requests.get(url, headers=bearer(tokens["access_token"]), timeout=5).ok
    cloud.clock.advance(61)
    assert requests.get(url, headers=bearer(tokens["access_token"]),
                        timeout=5).status_code == 401
    fresh = refresh(cloud, tokens["refresh_token"]).json()
    assert requests.get(url, headers=bearer(fresh["access_token"]), timeout=5).ok
    assert cloud.oauth.revoke(client_id=CLIENT) == 1
    assert requests.get(url, headers=bearer(fresh["access_token"]),
                        timeout=5).status_code == 401
    assert refresh(cloud, fresh["refresh_token"]).status_code == 403


def test_token_endpoint_errors(cloud):
    tokens = authorize(cloud, "read:jira-user")
    assert "refresh_token" not in tokens  # no offline_access, no refresh token
    bad_secret = requests.post(cloud.url("/oauth/token"), timeout=5, json={
        "grant_type": "refresh_token", "client_id": CLIENT, "client_secret": "wrong",
        "refresh_token": "x"})
    assert bad_secret.status_code == 401
    bad_code = requests.post(cloud.url("/oauth/token"), timeout=5, json={
        "grant_type": "authorization_code", "client_id": CLIENT, "client_secret": SECRET,
        "code": "used-or-unknown", "redirect_uri": REDIRECT})
    assert bad_code.status_code == 403 and bad_code.json()["error"] == "invalid_grant"
    bad_redirect = requests.get(cloud.url("/authorize"), allow_redirects=False, timeout=5,
                                params={"client_id": CLIENT, "scope": "read:jira-user",
                                        "redirect_uri": "https://evil.example.com",
                                        "response_type": "code"})
    assert bad_redirect.status_code == 400


def test_a_scoped_api_token_works_only_through_the_gateway(cloud):
    admin = cloud.site.user(cloud.admin_account_id)
    admin.api_token_scopes = frozenset({"read:jira-user", "manage:jira-configuration"})
    on_site = requests.get(cloud.url("/rest/api/3/group/bulk"), auth=cloud.admin_auth, timeout=5)
    assert on_site.status_code == 401  # the same bare refusal as an unknown token
    tenant = requests.get(cloud.url("/_edge/tenant_info"), timeout=5)
    assert tenant.status_code == 200 and tenant.json() == {"cloudId": cloud.cloud_id}
    gateway = requests.get(cloud.jira_api_url("/rest/api/3/group/bulk"), auth=cloud.admin_auth,
                           timeout=5)
    assert gateway.status_code == 200
    added = requests.post(cloud.jira_api_url("/rest/api/3/group/user"), auth=cloud.admin_auth,
                          params={"groupId": ENGINEERING}, json={"accountId": DAVE}, timeout=5)
    assert added.status_code == 201 and DAVE in cloud.site.group(ENGINEERING).members
    wiki = requests.get(f"{cloud.base_url}/ex/confluence/{cloud.cloud_id}/wiki/rest/api/group",
                        auth=cloud.admin_auth, timeout=5)
    assert wiki.status_code == 401 and "scope does not match" in wiki.text  # a Jira token
    admin.api_token_scopes = None  # a classic token is for the site URL only
    assert requests.get(cloud.jira_api_url("/rest/api/3/group/bulk"), auth=cloud.admin_auth,
                        timeout=5).status_code == 401
    assert requests.get(cloud.url("/rest/api/3/group/bulk"), auth=cloud.admin_auth,
                        timeout=5).status_code == 200
