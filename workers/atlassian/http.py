"""The one chokepoint for Atlassian HTTP: URL check, rate gate, retries with backoff, typed errors.

atlassian-python-api supplies the endpoints (`workers.atlassian.clients`), but its clients
send every request through a session whose `request` lands here: this layer needs every
status and header (Retry-After, RateLimit-*) and its own retry budget, which the library's
helpers would raise away or spend on retries of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.auth import AuthBase

from workers.atlassian.errors import (
    AtlassianError,
    AuthError,
    QuotaExhaustedError,
    TransientError,
    error_for_status,
)
from workers.atlassian.ratelimit import RateGate
from workers.backoff import BackoffPolicy, parse_retry_after
from workers.errors import Stop
from workers.netguard import UnsafeURLError, check_url
from workers.pinned_adapter import PinnedAdapter, mount
from workers.retrying import CUT_OFF, send_with_retries

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A 429 that asks for a longer wait than this, or names a quota, is the hourly points budget
# (Atlassian's 2026 limits), not a burst: waiting it out in the worker would idle it for up to
# an hour, so the run is deferred instead.
QUOTA_MIN_WAIT = 60.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_POSTS = frozenset({"is_site_admin", "org_find_user", "org_find_groups"})
"""Operations that read through a POST (permission checks, the org API's searches): a dry run
may send them; every other unsafe method is a write."""


class RefusedAddress(AuthError):
    """The site's host resolves to an address that is not public: nothing was sent there.

    An AuthError so the executor stops the run, as for a credential that cannot be used.
    """


class DryRunWrite(AtlassianError, Stop):
    """A dry run asked to change the site: refused here, before anything was sent."""


def refuse_if_dry_run(read_only: bool, operation: str, method: str) -> None:
    """The one place a dry run refuses every unsafe method (authentik's chokepoint)."""
    if read_only and method.upper() in WRITE_METHODS and operation not in READ_POSTS:
        raise DryRunWrite(operation, f"a dry run never writes: {method.upper()} refused")


class RenewableAuth(AuthBase):
    """An auth whose token can go stale before its expiry (revoked, rotated): `renew()` fetches anew."""

    def renew(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Transport:
    """Sends requests for one site; thread-safe, one gate per request class (read / write).

    `policy` decides the waits (Retry-After first), `sleep` is injectable so tests can
    shorten them, `allow_private` lets the sandbox on loopback through the URL guard.
    """

    def __init__(self, *, policy: BackoffPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, allow_private: bool = False,
                 session: requests.Session | None = None, pool_size: int = 16,
                 read_only: bool = False) -> None:
        self.policy = policy or BackoffPolicy()
        self.read_only = read_only  # a dry run's transport: writes are refused unsent
        self._sleep = sleep
        self.timeout = timeout
        self.allow_private = allow_private
        self.session = session or _pooled_session(pool_size, allow_private)
        self.gates = {"read": RateGate(sleep=sleep), "write": RateGate(sleep=sleep)}
        self._lock = threading.Lock()
        self.retries = 0
        self.calls = 0

    def request(self, operation: str, method: str, url: str, *, auth: AuthBase | None,
                params: Mapping[str, Any] | None = None, json: Any = None,
                data: str | bytes | None = None, headers: Mapping[str, str] | None = None,
                accept: Callable[[requests.Response], bool] | None = None,
                final: Callable[[requests.Response], AtlassianError | None] | None = None
                ) -> requests.Response:
        """One logical call: retried on 429/5xx/network errors, then a response or a typed error.

        `accept(response)` may declare an error status a success (idempotent outcomes such as
        "already a member"); otherwise any status >= 400 raises. `final(response)` may name
        an error answer as permanent (raised at once, never retried) by returning its error.
        `data` is a body already encoded (the library's JSON text), `headers` the caller's own.
        """
        refuse_if_dry_run(self.read_only, operation, method)
        check_url(url, allow_private=self.allow_private, resolve=False)
        gate = self.gates["write" if method.upper() in WRITE_METHODS else "read"]
        answer = _Answers(self, operation, gate, auth, accept, final)

        def send() -> requests.Response:
            gate.acquire()
            response = self._send(method, url, auth, params, json, data, headers)
            gate.observe(response.headers, served=response.status_code != 429)
            return response

        try:
            response = send_with_retries(
                send, policy=self.policy, sleep=self._sleep, retryable=answer.retryable,
                delay=answer.delay, renew=answer.renew, on_retry=answer.on_retry,
                unreachable=(requests.ConnectionError, requests.Timeout, *CUT_OFF))
        except UnsafeURLError as exc:  # the site's name resolves to a non-public address
            raise RefusedAddress(operation, f"refusing to call {url}: {exc}") from None
        except (requests.ConnectionError, requests.Timeout, *CUT_OFF) as exc:
            raise TransientError(operation, f"no answer ({type(exc).__name__}) after "
                                 f"{self.policy.max_retries + 1} attempts") from None
        if answer.succeeded(response):
            return response
        raise error_for_status(operation, response.status_code, _body(response))

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def _send(self, method: str, url: str, auth: AuthBase | None,
              params: Mapping[str, Any] | None, json: Any, data: str | bytes | None,
              headers: Mapping[str, str] | None) -> requests.Response:
        with self._lock:
            self.calls += 1
        sent = {"Accept": "application/json"}
        if data is not None:  # a bodiless request carries no Content-Type
            sent["Content-Type"] = "application/json"
        sent.update({k: v for k, v in (headers or {}).items() if k.lower() not in
                     ("accept", "content-type", "authorization")})
        return self.session.request(method, url, params=params, json=json, data=data, auth=auth,
                                    timeout=self.timeout, allow_redirects=False, headers=sent)


class _Answers:
    """What one logical call makes of each answer: the questions the retry loop asks."""

    def __init__(self, transport: Transport, operation: str, gate: RateGate,
                 auth: AuthBase | None, accept: Callable[[requests.Response], bool] | None,
                 final: Callable[[requests.Response], AtlassianError | None] | None) -> None:
        self.transport, self.operation, self.gate = transport, operation, gate
        self.auth, self.accept, self.final = auth, accept, final

    def succeeded(self, response: requests.Response) -> bool:
        return response.status_code < 400 or bool(self.accept and self.accept(response))

    def retryable(self, response: requests.Response) -> bool:
        """Worth sending again; raises at once for a permanent error or a spent quota."""
        if self.succeeded(response):
            return False
        permanent = self.final(response) if self.final else None
        if permanent is not None:
            raise permanent
        if response.status_code == 429:
            _raise_if_quota(self.operation, response)
        return response.status_code in RETRY_STATUSES

    def delay(self, response: requests.Response, attempt: int) -> float:
        return self.transport.policy.delay(
            attempt, parse_retry_after(response.headers.get("Retry-After")))

    def renew(self, response: requests.Response) -> bool:
        if not isinstance(self.auth, RenewableAuth):
            return False
        self.auth.renew()  # raises the AuthError that asks for a reconnect when it cannot
        return True

    def on_retry(self, attempt: int, response: requests.Response | None, wait: float) -> None:
        if response is not None and response.status_code == 429:
            self.gate.pause(wait)  # the bucket is per credential: every thread must wait
        self.transport.count_retry()
        log.info("atlassian %s: retry %d in %.2fs (%s)", self.operation, attempt, wait,
                 response.status_code if response is not None else "no answer")


def _raise_if_quota(operation: str, response: requests.Response) -> None:
    reason = response.headers.get("RateLimit-Reason", "")
    wait = parse_retry_after(response.headers.get("Retry-After"))
    if "quota" not in reason and (wait is None or wait <= QUOTA_MIN_WAIT):
        return
    wait = wait if wait is not None else 3600.0
    raise QuotaExhaustedError(operation, f"the app's hourly Atlassian API budget is spent "
                              f"({reason or 'quota'}); the run continues in {wait / 60:.0f} min",
                              retry_after=wait)


def _pooled_session(pool_size: int, allow_private: bool) -> requests.Session:
    # the site's host is resolved and checked per request, and the checked address is dialled
    session = requests.Session()
    mount(session, PinnedAdapter(allow_private=allow_private, pool_connections=pool_size,
                                 pool_maxsize=pool_size))
    return session


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def json_body(operation: str, response: requests.Response) -> Any:
    """The JSON of a successful answer; a non-JSON success is the site misbehaving."""
    try:
        return response.json()
    except ValueError as exc:
        raise TransientError(operation, "the site answered with something that is not JSON",
                             status=response.status_code,
                             remote_message=response.text[:200]) from exc


__all__ = ["AuthError", "DryRunWrite", "RefusedAddress", "RenewableAuth", "Transport", "json_body"]
