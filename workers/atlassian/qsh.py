"""The Connect query-string hash: canonical request → hex SHA-256 (Atlassian's own implementation)."""

from __future__ import annotations

from urllib.parse import urlsplit

from atlassian_jwt.url_utils import canonicalize_request, hash_url

CONTEXT_QSH = "context-qsh"


def relative_url(full_url: str, base_url: str) -> str:
    """The part of `full_url` after the product's base URL (keeps a `/wiki` base out of the hash)."""
    base_path = urlsplit(base_url).path.rstrip("/")
    parts = urlsplit(full_url)
    path = parts.path
    if base_path and path.startswith(base_path):
        path = path[len(base_path):]
    return path + (f"?{parts.query}" if parts.query else "")


def canonical(method: str, url: str) -> str:
    """`METHOD&path&sorted-query` for a URL relative to the product base."""
    return canonicalize_request(method, url)


def qsh(method: str, url: str) -> str:
    """The `qsh` claim for a request to `url` (relative to the product base URL)."""
    return hash_url(method, url)
