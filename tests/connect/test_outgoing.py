"""Outgoing app → product JWTs verify the way Atlassian verifies them."""

from __future__ import annotations

import jwt
import requests
from atlassian_jwt.url_utils import hash_url

from workers.atlassian.connect_jwt import ConnectJWTAuth


def prepared(url: str, method: str = "GET") -> requests.PreparedRequest:
    return requests.Request(method, url).prepare()


def test_token_claims_and_qsh_of_the_request():
    auth = ConnectJWTAuth("com.example.usersync", "s" * 40, "https://site.atlassian.net")
    req = auth(prepared("https://site.atlassian.net/rest/api/3/group/member?groupId=g1&startAt=50"))
    scheme, token = req.headers["Authorization"].split(" ", 1)
    assert scheme == "JWT"
    claims = jwt.decode(token, "s" * 40, algorithms=["HS256"])
    assert claims["iss"] == "com.example.usersync"
    assert 170 <= claims["exp"] - claims["iat"] <= 190
    assert claims["qsh"] == hash_url("GET", "/rest/api/3/group/member?groupId=g1&startAt=50")


def test_confluence_context_path_is_not_hashed():
    auth = ConnectJWTAuth("k", "s" * 40, "https://site.atlassian.net/wiki")
    req = auth(prepared("https://site.atlassian.net/wiki/rest/api/group?limit=200"))
    claims = jwt.decode(req.headers["Authorization"][4:], "s" * 40, algorithms=["HS256"])
    assert claims["qsh"] == hash_url("GET", "/rest/api/group?limit=200")


def test_works_with_atlassian_python_api_session():
    from atlassian import Jira

    session = requests.Session()
    session.auth = ConnectJWTAuth("k", "s" * 40, "https://site.atlassian.net")
    jira = Jira(url="https://site.atlassian.net", session=session, cloud=True)
    req = jira._session.auth(prepared("https://site.atlassian.net/rest/api/3/myself"))
    assert req.headers["Authorization"].startswith("JWT ")
