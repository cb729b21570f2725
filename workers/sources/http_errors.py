"""Errors and admin-readable descriptions for the shared HTTP layer (see workers.sources.http)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from workers.errors import Transient
from workers.sources.base import SourceError

GOOGLE_QUOTA_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded"})


class SourceTransientError(SourceError, Transient):
    """The IdP kept answering 429/5xx (or timing out) after every retry: try again later."""

    reason = "transient"


def is_google_quota(response: requests.Response) -> bool:
    """Google answers some quota limits with 403 and a reason in the JSON error body."""
    if response.status_code not in (403, 429):
        return False
    try:
        errors = response.json().get("error", {}).get("errors", [])
    except (ValueError, AttributeError):
        return False
    return any(isinstance(e, dict) and e.get("reason") in GOOGLE_QUOTA_REASONS for e in errors)


def describe_connection_error(exc: requests.RequestException, url: str, label: str,
                              timeout: tuple[float, float]) -> str:
    """One sentence for a failed connection: DNS, TLS, refused or timeout."""
    parts = urlsplit(url)
    host = parts.hostname or url
    where = f"{host}:{parts.port}" if parts.port else host
    text = _chain_text(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return (f"The TLS handshake with {where} failed ({_short(text)}): check the URL and the "
                f"server's certificate.")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"{label} at {where} stopped part-way through its answer (connection dropped)."
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"No connection to {label} at {where} within {timeout[0]:g} s (connect timeout)."
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{label} at {where} did not answer within {timeout[1]:g} s (read timeout)."
    lowered = text.lower()
    if any(s in lowered for s in ("name or service not known", "nodename nor servname",
                                  "name resolution", "getaddrinfo failed", "no address")):
        return f"The host name {host} does not resolve (DNS): check the URL."
    if "refused" in lowered:
        return f"Connection to {where} was refused: nothing listens there; check host and port."
    return f"Could not connect to {label} at {where}: {_short(text)}."


def response_detail(response: requests.Response) -> str:
    """': <the IdP's error text>' from a JSON or short text error body, else ''."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return f": {text[:200]}" if text and len(text) < 300 and "<" not in text else ""
    return f": {_short(_error_text(body))}" if _error_text(body) else ""


def _error_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    err = body.get("error")
    if isinstance(err, dict):  # Graph and Google: {"error": {"code", "message"}}
        return str(err.get("message") or err.get("code") or "")
    parts = [str(body[k]) for k in ("error", "error_description", "errorSummary", "errorMessage",
                                    "message", "detail") if body.get(k)]
    return " - ".join(dict.fromkeys(parts))


def _chain_text(exc: BaseException) -> str:
    seen = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 6:
        seen.append(str(current))
        current = current.__cause__ or current.__context__
        if current is None and seen and exc.args and isinstance(exc.args[0], BaseException):
            current = exc.args[0] if str(exc.args[0]) not in seen else None
    return " | ".join(seen)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
