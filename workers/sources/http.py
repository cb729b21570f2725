"""The HTTP layer every HTTP-based source shares: guarded URLs, retries, error mapping, auth, paging.

Use it like this::

    client = HttpClient(base_url, allow_private=self.allow_private, auth=auth,
                        backoff=BackoffPolicy(initial=1, cap=30), workers=8, label="Okta")
    for page in client.pages_link("/api/v1/users", params={"limit": 200}):
        ...
    results = client.map_concurrent(read_members, group_ids)

What it does for you:
- every URL (including next links the server hands back) passes `workers.netguard.check_url`,
  and each connection goes to the address the guard resolved and checked (`PinnedAdapter`),
  so DNS rebinding cannot swap it;
- (connect, read) timeouts on every call;
- 429, 500, 502, 503, 504 and Google's 403 quota answers are retried with the server's
  Retry-After (or Okta's X-Rate-Limit-Reset) else the injected `BackoffPolicy`; when Okta says
  `X-Rate-Limit-Remaining: 0` the next call waits for the reset instead of earning a 429;
- a 401 makes the `Auth` refresh its token once and the call is repeated (concurrent callers
  share one refresh);
- failures become `SourceError` subclasses with a sentence an admin can act on: DNS, TLS,
  refused, timeout -> SourceUnreachable; 401 -> SourceAuthError; 403 -> SourcePermissionError;
  404 -> SourceNotFound; retries exhausted -> SourceTransientError (catch it per page and call
  `Snapshot.mark_incomplete`, see `drain`);
- `requests` counts every HTTP attempt (token calls and retries included).

Auth lives in `http_auth` and error wording in `http_errors`; import everything from here.
"""

from __future__ import annotations

import os
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, ClassVar, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from marshmallow import fields, validate

from workers.backoff import BackoffPolicy, parse_retry_after
from workers.netguard import UnsafeURLError, check_url
from workers.pinned_adapter import PinnedAdapter, mount
from workers.retrying import CUT_OFF, send_with_retries
from workers.sources.base import (
    ConnectionCheck,
    Source,
    SourceAuthError,
    SourceConfigError,
    SourceError,
    SourceNotFound,
    SourcePermissionError,
    SourceUnreachable,
)
from workers.sources.http_auth import (  # noqa: F401  (re-exported: the layer's one import point)
    Auth,
    ClientCredentialsAuth,
    RefreshingClientCredentials,
    StaticAuth,
    Token,
    TokenAuth,
    token_from_response,
)
from workers.sources.http_errors import (  # noqa: F401
    GOOGLE_QUOTA_REASONS,
    SourceTransientError,
    describe_connection_error,
    is_google_quota,
    response_detail,
)
from workers.sources.records import MALFORMED, convert  # noqa: F401  (re-exported)
from workers.sources.settings import field_meta
from workers.sync.model import Snapshot
from workers.threads import run_all

T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = (5.0, 30.0)


DEFAULT_PORTS = {"http": 80, "https": 443}


class ForeignNextPage(SourceError):
    """The IdP named a next page on another origin; it is not read, and the listing is incomplete."""

    reason = "foreign_next_page"


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, the port filled in from the scheme; an unparsable port
    gives an origin that matches nothing real."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower().rstrip("."), port


def _origin_text(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


class HttpClient:
    """A requests session for one IdP connection; see the module docstring."""

    def __init__(self, base_url: str, *, allow_private: bool = False, auth: Auth | None = None,
                 backoff: BackoffPolicy | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 workers: int = 4, label: str = "the IdP",
                 sleep: Callable[[float], None] = time.sleep,
                 headers: dict[str, str] | None = None):
        self.base_url = base_url.rstrip("/") + "/"
        self.allow_private = allow_private
        self.auth = auth or Auth()
        self.backoff = backoff or BackoffPolicy(initial=1.0, cap=30.0, max_retries=5)
        self.timeout = timeout
        self.workers = max(1, workers)
        self.label = label
        self.sleep = sleep
        self.session = requests.Session()
        # connections go to the address the guard checked (no second lookup to rebind)
        mount(self.session, PinnedAdapter(allow_private=allow_private, pool_connections=4,
                                          pool_maxsize=self.workers + 2))
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        if not _proxy_configured():
            # requests re-reads the whole environment on every call (~1 ms); without proxy
            # variables there is nothing to find, so read the CA bundle setting once instead
            self.session.trust_env = False
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                self.session.verify = bundle
        self._count = 0
        self._count_lock = threading.Lock()
        self._not_before = 0.0

    @property
    def requests(self) -> int:
        """HTTP attempts made so far (each retry and token call counts)."""
        return self._count

    def url(self, path_or_url: str) -> str:
        """An absolute URL from a path relative to the base URL (absolute URLs pass through)."""
        if urlsplit(path_or_url).scheme:
            return path_or_url
        return urljoin(self.base_url, path_or_url.lstrip("/"))

    # -- one request -------------------------------------------------------------------

    def request(self, method: str, path_or_url: str, *, params: Any = None, data: Any = None,
                json: Any = None, headers: dict[str, str] | None = None,
                authenticate: bool = True) -> requests.Response:
        """Send one logical request (retrying as needed); a 2xx response or a SourceError."""
        url = self._checked(self.url(path_or_url))
        generation = [self.auth.generation]

        def send() -> requests.Response:
            extra = self.auth.headers(self, method, url) if authenticate else {}
            generation[0] = self.auth.generation  # after headers(): they may have fetched a token
            return self._send(method, url, params=params, data=data, json=json,
                              headers={**extra, **(headers or {})})

        response = self._with_retries(
            send, url,
            renew=(lambda _: self.auth.refresh(self, generation[0])) if authenticate else None)
        if response.status_code < 300:
            return response
        raise self.error_for(response, url)

    def get_json(self, path_or_url: str, params: Any = None) -> Any:
        """GET and decode JSON; a non-JSON body is a clear SourceError."""
        return self.decode(self.request("GET", path_or_url, params=params))

    def post_token(self, token_url: str, form: dict[str, str],
                   headers: dict[str, str] | None = None,
                   auth: tuple[str, str] | None = None) -> requests.Response:
        """POST a token request form; answers 400/401 are returned for the Auth to explain."""
        url = self._checked(token_url)
        response = self._with_retries(
            lambda: self._send("POST", url, data=form, headers=headers or {}, basic=auth), url)
        if response.status_code in (400, 401) or response.status_code < 300:
            return response
        raise self.error_for(response, url)

    def same_origin(self, url: str) -> str:
        """A next link the server handed back, made absolute; our credentials never follow it
        to another origin (scheme, host and port must all match the base URL's)."""
        absolute = self.url(url)
        if origin(absolute) != origin(self.base_url):
            raise ForeignNextPage(
                f"{self.label} pointed the next page at another host or origin "
                f"({_origin_text(absolute)}, not {_origin_text(self.base_url)}); refusing to send "
                f"credentials there, so the listing is incomplete.")
        return absolute

    def decode(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"{self.label} answered {response.url} with something that is "
                              f"not JSON ({response.headers.get('Content-Type', 'no type')})."
                              ) from None

    def _checked(self, url: str) -> str:
        try:
            return check_url(url, allow_private=self.allow_private, resolve=False)
        except UnsafeURLError as exc:
            raise SourceConfigError(f"Refusing to call {self.label}: {exc}") from None

    def _with_retries(self, send: Callable[[], requests.Response], url: str,
                      renew: Callable[[requests.Response], bool] | None = None) -> requests.Response:
        try:
            return send_with_retries(send, policy=self.backoff, sleep=self.sleep,
                                     retryable=self._retryable, delay=self._delay, renew=renew,
                                     unreachable=CUT_OFF)
        except CUT_OFF as exc:  # cut off on every try
            raise SourceUnreachable(describe_connection_error(exc, url, self.label,
                                                              self.timeout)) from None

    def _send(self, method: str, url: str, *, headers: dict[str, str],
              basic: tuple[str, str] | None = None, **kwargs: Any) -> requests.Response:
        wait = self._not_before - time.time()
        if wait > 0:
            self.sleep(min(wait, self.backoff.max_retry_after))
        with self._count_lock:
            self._count += 1
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout,
                                            auth=basic, allow_redirects=False, **kwargs)
        except UnsafeURLError as exc:  # the address the name resolves to is not public
            raise SourceConfigError(f"Refusing to call {self.label}: {exc}") from None
        except CUT_OFF:
            raise  # retried by `request`, like a 503
        except requests.RequestException as exc:
            raise SourceUnreachable(describe_connection_error(exc, url, self.label,
                                                              self.timeout)) from None
        self._note_rate_limit(response)
        return response

    def _note_rate_limit(self, response: requests.Response) -> None:
        # Okta publishes its budget; waiting for the reset is cheaper than earning a 429.
        if response.headers.get("X-Rate-Limit-Remaining") == "0":
            reset = _float(response.headers.get("X-Rate-Limit-Reset"))
            if reset is not None:
                self._not_before = max(self._not_before, reset)

    def _retryable(self, response: requests.Response) -> bool:
        if response.status_code in RETRY_STATUSES:
            return True
        return response.status_code == 403 and is_google_quota(response)

    def _delay(self, response: requests.Response, attempt: int) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None and response.status_code == 429:
            reset = _float(response.headers.get("X-Rate-Limit-Reset"))
            if reset is not None:
                retry_after = max(reset - time.time(), 0.0)
        return self.backoff.delay(attempt, retry_after)

    def error_for(self, response: requests.Response, url: str) -> SourceError:
        """The SourceError for a failed answer (its HTTP status in `.status`)."""
        return self._error_for(response, url)

    def _error_for(self, response: requests.Response, url: str) -> SourceError:
        status = response.status_code
        where = urlsplit(url).path or "/"
        detail = response_detail(response)
        if 300 <= status < 400:  # never followed: credentials must not chase a redirect
            return SourceConfigError(
                f"{self.label} redirected {where} to {response.headers.get('Location', '?')} "
                f"({status}): check the URL (scheme, host, path prefix).", status=status)
        if status == 401:
            return SourceAuthError(f"{self.label} refused the credentials (401 on {where}){detail}.",
                                   status=status)
        if status == 403 and not is_google_quota(response):
            return SourcePermissionError(
                f"{self.label} says the credentials lack a permission needed to read {where} "
                f"(403){detail}.", status=status)
        if status == 404:
            return SourceNotFound(f"{self.label} has nothing at {where} (404){detail}: check "
                                  f"the base URL, realm, tenant or domain.", status=status)
        if status in RETRY_STATUSES or status == 403:
            return SourceTransientError(f"{self.label} kept answering {status} on {where} after "
                                        f"{self.backoff.max_retries} retries{detail}.", status=status)
        return SourceError(f"{self.label} answered {status} on {where}{detail}.", status=status)

    # -- paging ------------------------------------------------------------------------

    def pages_offset(self, path: str, params: dict[str, Any] | None = None, *,
                     page_size: int, offset_param: str = "first", limit_param: str = "max",
                     start: int = 0, items: Callable[[Any], list] = lambda body: body
                     ) -> Iterator[list]:
        """Offset/limit paging without totals: stop at the first page shorter than `page_size`."""
        offset = start
        while True:
            body = self.get_json(path, {**(params or {}), offset_param: offset,
                                        limit_param: page_size})
            page = self._listed(items(body), path)
            yield page
            if len(page) < page_size:
                return
            offset += len(page)

    def pages_link(self, path: str, params: dict[str, Any] | None = None, *,
                   items: Callable[[Any], list] | None = None) -> Iterator[Any]:
        """Link-header paging (`<...>; rel="next"`), each next URL followed verbatim.

        Yields each decoded body as it is, or with `items` the list it extracts (checked).
        """
        response = self.request("GET", path, params=params)
        while True:
            body = self.decode(response)
            yield body if items is None else self._listed(items(body), path)
            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                return
            response = self.request("GET", self.same_origin(urljoin(response.url, nxt)))

    def pages_token(self, path: str, params: dict[str, Any] | None = None, *, items_field: str,
                    token_field: str = "nextPageToken", token_param: str = "pageToken"
                    ) -> Iterator[list]:
        """Next-token paging: repeat the call with `token_param` until the body has no token."""
        token = None
        while True:
            query = dict(params or {})
            if token:
                query[token_param] = token
            body = self._object(self.get_json(path, query), path)
            yield self._listed(body.get(items_field) or [], path)
            token = body.get(token_field)
            if not token:
                return

    def pages_next_url(self, path: str, params: dict[str, Any] | None = None, *,
                       items_field: str = "value", next_field: str = "@odata.nextLink",
                       on_last: Callable[[dict], None] | None = None) -> Iterator[list]:
        """Next-URL-in-body paging (Graph's @odata.nextLink); `on_last` sees the final body."""
        body = self._object(self.get_json(path, params), path)
        while True:
            yield self._listed(body.get(items_field) or [], path)
            nxt = body.get(next_field)
            if not nxt:
                if on_last:
                    on_last(body)
                return
            body = self._object(self.get_json(self.same_origin(nxt)), path)

    def _listed(self, page: Any, path: str) -> list:
        if not isinstance(page, list):
            raise SourceError(f"{self.label} answered {path} with {type(page).__name__} where a "
                              f"list of items belongs; is the URL right?")
        return page

    def _object(self, body: Any, path: str) -> dict:
        if not isinstance(body, dict):
            raise SourceError(f"{self.label} answered {path} with {type(body).__name__} where "
                              f"a JSON object belongs; is the URL right?")
        return body

    # -- concurrency -------------------------------------------------------------------

    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T],
                       workers: int | None = None) -> list[tuple[T, R | None, SourceError | None]]:
        """Run `fn` over `items` on a bounded pool; (item, result, error) in input order.

        SourceTransientError and other SourceErrors come back as values so one bad group does
        not sink the rest; auth and permission errors are re-raised (nothing else will work).
        """
        items = list(items)
        size = max(1, min(workers or self.workers, len(items) or 1))

        def run(item: T) -> tuple[T, R | None, SourceError | None]:
            try:
                return item, fn(item), None
            except (SourceAuthError, SourcePermissionError, SourceConfigError):
                raise
            except SourceError as exc:
                return item, None, exc
            except MALFORMED as exc:
                # a malformed record costs this item only, and leaves the snapshot incomplete
                return item, None, SourceError(f"{self.label} sent a malformed record "
                                               f"({type(exc).__name__}: {exc}).")

        return run_all(run, items, size, name="source")

    def close(self) -> None:
        self.session.close()


def drain(pages: Iterator[list], snapshot: Snapshot, what: str) -> list:
    """Every item of a paged listing; a page that still fails marks the snapshot incomplete."""
    out: list = []
    try:
        for page in pages:
            out.extend(page)
    except (SourceTransientError, ForeignNextPage) as exc:
        snapshot.mark_incomplete(f"reading {what}: {exc.message}")
    return out


def copy_snapshot(previous: Snapshot) -> Snapshot:
    """A copy of `previous` that incremental reads can change without touching the original;
    it is marked incremental (a source that falls back to `fetch()` returns a fresh one)."""
    return Snapshot(users=dict(previous.users), groups=dict(previous.groups),
                    members={gid: set(ids) for gid, ids in previous.members.items()},
                    complete=previous.complete, errors=list(previous.errors),
                    cursor=previous.cursor, incremental=True)


def shared_copy(previous: Snapshot) -> Snapshot:
    """Like `copy_snapshot`, but the member sets are `previous`'s own until `own_members`
    replaces one: a change read then copies only the groups it changes, and what it left
    alone stays the same object, which the delta and the planner compare by identity first."""
    return Snapshot(users=dict(previous.users), groups=dict(previous.groups),
                    members=dict(previous.members), complete=previous.complete,
                    errors=list(previous.errors), cursor=previous.cursor, incremental=True)


def own_members(snapshot: Snapshot, group_id: str, owned: set[str]) -> set[str]:
    """The member set of `group_id` in a `shared_copy`, made its own (copied once, recorded
    in `owned`) so that changing it leaves the snapshot it was copied from as it was."""
    if group_id not in owned:
        snapshot.members[group_id] = set(snapshot.members.get(group_id, ()))
        owned.add(group_id)
    return snapshot.members[group_id]


def drop_member(snapshot: Snapshot, user_id: str) -> None:
    """Take `user_id` out of every group of a `shared_copy` (new sets, never in place)."""
    members = snapshot.members
    for gid, ids in members.items():
        if user_id in ids:
            members[gid] = ids - {user_id}


def incomplete_copy(previous: Snapshot, message: str) -> Snapshot:
    """`previous` again, marked incomplete: a change read failed, so no removal may follow and
    the stored base (with its cursor) stays for the next run."""
    snapshot = copy_snapshot(previous)
    snapshot.mark_incomplete(message)
    return snapshot


def _proxy_configured() -> bool:
    return any(k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class HttpSource(Source):
    """Base of HTTP sources: one cached HttpClient, injectable backoff, sleep and pool size.

    Subclasses implement `make_client()` and `check()`; tests pass a tiny `backoff` and a
    recording `sleep`.
    """

    default_workers: ClassVar[int] = 8
    default_backoff: ClassVar[BackoffPolicy] = BackoffPolicy(initial=1.0, cap=30.0, max_retries=5)

    def __init__(self, settings: Mapping[str, Any], *, allow_private: bool = False,
                 backoff: BackoffPolicy | None = None,
                 sleep: Callable[[float], None] | None = None, workers: int | None = None):
        super().__init__(settings, allow_private=allow_private)
        self.backoff = backoff or self.default_backoff
        self.sleep = sleep or time.sleep
        self.workers = workers or int(self.settings.get("workers") or self.default_workers)
        self._client: HttpClient | None = None

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def new_client(self, base_url: str, auth: Auth, **kwargs: Any) -> HttpClient:
        """An HttpClient wired with this source's policy (for `make_client`)."""
        return HttpClient(base_url, allow_private=self.allow_private, auth=auth,
                          backoff=self.backoff, sleep=self.sleep, workers=self.workers,
                          label=self.label or self.kind, **kwargs)

    @abstractmethod
    def make_client(self) -> HttpClient:
        """The client for this connection: base URL and auth from the settings."""

    def test_connection(self) -> ConnectionCheck:
        """Run `check()` with short timeouts and one retry: the admin is waiting for the answer."""
        try:
            client = self.client
        except SourceError as exc:
            return ConnectionCheck.failed(exc)
        saved = client.timeout, client.backoff
        client.timeout = (min(saved[0][0], 5.0), min(saved[0][1], 10.0))
        client.backoff = replace(saved[1], max_retries=min(saved[1].max_retries, 1),
                                 max_retry_after=min(saved[1].max_retry_after, 5.0))
        try:
            return super().test_connection()
        finally:
            client.timeout, client.backoff = saved

    def get_or_none(self, path: str, params: Any = None) -> Any:
        """One resource by path, or None when the IdP answers 404 (a user or group gone)."""
        try:
            return self.client.get_json(path, params)
        except SourceNotFound:
            return None

    @property
    def requests(self) -> int:
        """HTTP requests this source has made."""
        return self._client.requests if self._client else 0


def workers_field(default: int, limit: str) -> fields.Integer:
    """The shared 'parallel member reads' setting."""
    return fields.Integer(load_default=default, validate=validate.Range(min=1, max=32),
                          metadata=field_meta("Parallel reads", "How many group member lists "
                                              f"to read at once ({limit})."))
