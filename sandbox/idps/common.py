"""Pieces every sandbox IdP shares: request counting, latency, fault injection, token issuing, serving.

A sandbox module builds a Flask app, wraps it in `Faults` and serves it with `serve_app`, which
yields a `SandboxHandle` (`.url`, `.settings`, `.requests`, `rate_limit_on`, `fail_page_on`,
`expire_tokens`). Stable interface: other sandbox modules import it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox.live import LiveServer, half_then_drop

ErrorBody = Callable[[int], tuple[str, dict[str, str]]]


def json_error_body(status: int) -> tuple[str, dict[str, str]]:
    """A plain JSON error body, the default for injected faults."""
    return json.dumps({"error": f"injected {status}"}), {"Content-Type": "application/json"}


@dataclass
class _Failure:
    remaining: int
    status: int
    signature: str | None = None


class Faults:
    """WSGI middleware: counts requests, adds latency and answers injected faults.

    Request numbers are 1-based and count every request since the last `reset()`.
    """

    def __init__(self, app: Callable, *, latency: float = 0.0,
                 error_body: ErrorBody = json_error_body):
        self.app = app
        self.latency = latency
        self.error_body = error_body
        self._lock = threading.Lock()
        self.count = 0
        self._rate_limits: dict[int, str] = {}
        self._failures: dict[int, _Failure] = {}
        self._active: list[_Failure] = []
        self._custom: dict[int, tuple[int, str, dict[str, str]]] = {}
        self._actions: dict[int, Callable[[], None]] = {}
        self._cuts: set[int] = set()

    def reset(self) -> None:
        with self._lock:
            self.count = 0

    def rate_limit_on(self, n: int, retry_after: str = "1") -> None:
        """Request number `n` answers 429 with `Retry-After: retry_after`."""
        self._rate_limits[n] = retry_after

    def fail_page_on(self, n: int, times: int = 1, status: int = 503) -> None:
        """Request `n` fails with `status`, and so do the next `times - 1` asks for that same URL."""
        self._failures[n] = _Failure(times, status)

    def answer_on(self, n: int, status: int, body: str, headers: dict[str, str]) -> None:
        """Request `n` gets exactly this answer (for vendor-specific faults)."""
        self._custom[n] = (status, body, headers)

    def cut_on(self, n: int) -> None:
        """Request `n` gets its real headers and half its body, then the connection drops."""
        self._cuts.add(n)

    def call_on(self, n: int, action: Callable[[], None]) -> None:
        """Run `action` just before request `n` is answered (e.g. expire every token)."""
        self._actions[n] = action

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        signature = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}?" \
                    f"{environ.get('QUERY_STRING', '')}"
        fault = self._fault_for(signature)
        if self.latency:
            time.sleep(self.latency)
        if fault is _CUT:
            return cut_short(self.app, environ, start_response)
        if fault is None:
            return self.app(environ, start_response)
        status, body, headers = fault
        start_response(f"{status} {_REASONS.get(status, 'Error')}", list(headers.items()))
        return [body.encode()]

    def _fault_for(self, signature: str) -> tuple[int, str, dict[str, str]] | None:
        with self._lock:
            self.count += 1
            n = self.count
            action = self._actions.pop(n, None)
            if action is not None:
                action()
            if n in self._cuts:
                self._cuts.discard(n)
                return _CUT
            if n in self._custom:
                return self._custom.pop(n)
            if n in self._rate_limits:
                body, headers = self.error_body(429)
                return 429, body, {**headers, "Retry-After": self._rate_limits.pop(n)}
            if n in self._failures:
                failure = self._failures.pop(n)
                failure.signature = signature
                self._active.append(failure)
            for failure in self._active:
                if failure.signature == signature and failure.remaining > 0:
                    failure.remaining -= 1
                    body, headers = self.error_body(failure.status)
                    return failure.status, body, headers
            self._active = [f for f in self._active if f.remaining > 0]
        return None


_CUT = (200, "", {})
"""The fault that answers for real but stops part-way (see `cut_short`)."""


def cut_short(app: Callable, environ: dict, start_response: Callable) -> Iterator[bytes]:
    """Answer with `app`'s real status, headers and length but half its body, then drop the
    connection, as a proxy or server that dies mid-answer does."""
    head: dict[str, Any] = {}

    def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        head.update(status=status, headers=headers)
        return lambda data: None

    body = b"".join(app(environ, keep))
    headers = [(k, v) for k, v in head["headers"] if k.lower() != "content-length"]
    start_response(head["status"], [*headers, ("Content-Length", str(len(body)))])
    return half_then_drop(body, environ)


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class TokenIssuer:
    """Issues opaque access tokens and checks them; `expire_all()` invalidates every one."""

    def __init__(self, lifetime: int = 3600):
        self.lifetime = lifetime
        self._tokens: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, **claims: Any) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = {**claims, "exp": time.time() + self.lifetime}
            self.issued += 1
        return token

    def check(self, token: str | None) -> dict[str, Any] | None:
        """The token's claims when valid, else None."""
        if not token:
            return None
        with self._lock:
            claims = self._tokens.get(token)
        return claims if claims and claims["exp"] > time.time() else None

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def response(self, **claims: Any) -> dict[str, Any]:
        """An OAuth token response body."""
        return {"access_token": self.issue(**claims), "token_type": "Bearer",
                "expires_in": self.lifetime}


def bearer(header: str | None, scheme: str = "Bearer") -> str | None:
    """The token from an `Authorization: <scheme> <token>` header (scheme case-insensitive)."""
    if not header or " " not in header:
        return None
    given, token = header.split(" ", 1)
    return token.strip() if given.lower() == scheme.lower() else None


class ClientCertificate:
    """A client's RSA key and self-signed certificate, generated at start; checks its assertions."""

    def __init__(self, subject: str = "usersync-sandbox-client"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        now = datetime.now(UTC)
        self.certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                            .public_key(key.public_key()).serial_number(x509.random_serial_number())
                            .not_valid_before(now - timedelta(days=1))
                            .not_valid_after(now + timedelta(days=30))
                            .sign(key, hashes.SHA256()))
        self.private_pem = key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        self.certificate_pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        self.x5t = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()

    def check_assertion(self, assertion: str, client_id: str, audience: str) -> str | None:
        """None when a private_key_jwt client assertion is good, else why not."""
        try:  # like Entra: find the key by the header's thumbprint first, then verify
            if jwt.get_unverified_header(assertion).get("x5t") != self.x5t:
                return "The certificate with the assertion's x5t is not registered on the app."
            claims = jwt.decode(assertion, self.certificate.public_key(), algorithms=["RS256"],
                                audience=audience, options={"require": ["exp", "jti"]})
        except jwt.PyJWTError as exc:
            return f"Client assertion failed signature validation ({exc})."
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            return "The assertion's iss and sub must be the client id."
        return None


@dataclass
class SandboxHandle:
    """What `serve()` yields: where the sandbox listens, the settings that reach it, its faults."""

    url: str
    settings: dict[str, Any]
    faults: Faults
    tokens: TokenIssuer
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return self.faults.count

    @requests.setter
    def requests(self, value: int) -> None:
        with self.faults._lock:
            self.faults.count = value

    def reset(self) -> None:
        self.faults.reset()

    def rate_limit_on(self, n: int, retry_after: str = "1") -> None:
        self.faults.rate_limit_on(n, retry_after)

    def fail_page_on(self, n: int, times: int = 1, status: int = 503) -> None:
        self.faults.fail_page_on(n, times, status)

    def cut_on(self, n: int) -> None:
        self.faults.cut_on(n)

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working now."""
        self.tokens.expire_all()

    def expire_tokens_on(self, n: int) -> None:
        """Every access token stops working just before request `n` (mid-fetch expiry)."""
        self.faults.call_on(n, self.tokens.expire_all)


@contextmanager
def serve_app(app: Callable, *, latency: float, tokens: TokenIssuer,
              settings: Callable[[str], dict[str, Any]],
              error_body: ErrorBody = json_error_body,
              extra: dict[str, Any] | None = None) -> Iterator[SandboxHandle]:
    """Run `app` behind `Faults` on a loopback port; yield its handle (with `extra`: what
    tests reach into, such as the sandbox's state)."""
    faults = Faults(app, latency=latency, error_body=error_body)
    with LiveServer(faults) as server:
        yield SandboxHandle(url=server.url, settings=settings(server.url), faults=faults,
                            tokens=tokens, extra=dict(extra or {}))


def pages(count: int, size: int) -> int:
    """How many pages a listing of `count` items takes at `size` a page (an empty one: one)."""
    return max(1, -(-count // size))


def page_bounds(args: Any, first_key: str, max_key: str, default_max: int,
                limit: int | None = None) -> tuple[int, int]:
    """(offset, size) from query args, clamped to the vendor's maximum page size."""
    first = max(int(args.get(first_key, 0) or 0), 0)
    size = int(args.get(max_key, default_max) or default_max)
    if limit is not None:
        size = min(size, limit)
    return first, max(size, 0)
