"""atlassian-python-api's Cloud clients (JiraCloud v3, ConfluenceCloud, CloudAdmin) on our transport.

The library supplies the endpoints; every request it makes goes through a `CredentialSession`
whose `request` hands it to our `Transport`, so the URL guard, pacing, retries, the renewal
after a 401 and the typed errors (with the site's own words) stay ours. The clients are built
without credentials of their own: the library would otherwise write them into the session's
headers, and the session sends only the auth of the credential it was made for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from atlassian import CloudAdmin, ConfluenceCloud, JiraCloud
from requests.auth import AuthBase

from workers.atlassian.http import Transport

Accept = Callable[[requests.Response], bool]
Final = Callable[[requests.Response], Any]
Client = JiraCloud | ConfluenceCloud | CloudAdmin


@dataclass(frozen=True, slots=True)
class _Calling:
    operation: str
    accept: Accept | None
    final: Final | None


class CredentialSession(requests.Session):
    """The `requests.Session` a library client sends through: one credential, our transport.

    `calling(operation, accept, final)` names the logical call for the requests made inside
    it (per thread, as the memberships run in a thread pool): the name goes into errors and
    logs, `accept` and `final` into the transport's decision on an error answer.
    """

    def __init__(self, transport: Transport, auth: AuthBase | None) -> None:
        super().__init__()
        self.transport, self.credential = transport, auth
        self._current = threading.local()

    @contextmanager
    def calling(self, operation: str, accept: Accept | None = None,
                final: Final | None = None) -> Iterator[None]:
        previous = getattr(self._current, "call", None)
        self._current.call = _Calling(operation, accept, final)
        try:
            yield
        finally:
            self._current.call = previous

    def request(self, method: str | bytes, url: str | bytes, params: Any = None,  # type: ignore[override]
                data: Any = None, headers: Any = None, json: Any = None, files: Any = None,
                **_ignored: Any) -> requests.Response:
        # timeout, verify, proxies and allow_redirects are the transport's: the library's
        # own (75 s, redirects followed) would undo the URL guard and the timeouts
        if files:
            raise ValueError("file uploads are not part of the Atlassian client")
        call = getattr(self._current, "call", None) or _Calling("atlassian", None, None)
        return self.transport.request(call.operation, str(method), str(url), auth=self.credential,
                                      params=params, json=json, data=data, headers=headers,
                                      accept=call.accept, final=call.final)


def _common(session: CredentialSession) -> dict[str, Any]:
    # raw responses (our transport has already turned every failure into a typed error),
    # and no retries of the library's own: it would sleep on a 429's Retry-After itself
    return {"session": session, "advanced_mode": True, "retry_with_header": False,
            "backoff_and_retry": False}


def jira_client(transport: Transport, base_url: str, auth: AuthBase | None) -> JiraCloud:
    """Jira Cloud platform REST v3 at the site (or its gateway base)."""
    return JiraCloud(base_url, api_version=3, **_common(CredentialSession(transport, auth)))


def confluence_client(transport: Transport, base_url: str, auth: AuthBase | None) -> ConfluenceCloud:
    """Confluence Cloud at the site root or its gateway base; the library adds `/wiki`."""
    return ConfluenceCloud(base_url, **_common(CredentialSession(transport, auth)))


def admin_client(transport: Transport, api_base: str, auth: AuthBase) -> CloudAdmin:
    """The organization API. The library fixes its host to api.atlassian.com; `api_base` is
    that in production and the sandbox's loopback address in tests."""
    client = CloudAdmin(None, **_common(CredentialSession(transport, auth)))
    client.url = api_base.rstrip("/")
    return client


def send(client: Client, operation: str, invoke: Callable[[Any], requests.Response] | None,
         method: str, path: str, *, params: Any = None, json: Any = None,
         accept: Accept | None = None, final: Final | None = None) -> requests.Response:
    """One call: the library method `invoke(client)` when the library has the endpoint right
    for Cloud, else its generic request with our method and path (relative to its base URL)."""
    session = client.session
    assert isinstance(session, CredentialSession)
    with session.calling(operation, accept, final):
        if invoke is not None:
            return invoke(client)
        return client.request(method, path, params=params, data=json, advanced_mode=True)


class Clients:
    """The library clients of one site, one per (credential, API), built on first use."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._lock = threading.Lock()
        self._clients: dict[tuple[int, str], tuple[object, Client]] = {}

    def get(self, owner: object, api: str, base_url: str, auth: AuthBase | None) -> Client:
        """`owner` is the credential object the client serves (kept alive with it)."""
        key = (id(owner), api)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                build = {"jira": jira_client, "confluence": confluence_client,
                         "org": admin_client}[api]
                found = (owner, build(self.transport, base_url, auth))  # type: ignore[operator]
                self._clients[key] = found
            return found[1]


__all__ = ["Clients", "CredentialSession", "admin_client", "confluence_client", "jira_client",
           "send"]
