"""gunicorn's access log without tokens: `--logger-class app.access_log.ScrubbingLogger`."""

from __future__ import annotations

import functools
import re
from typing import Any

from gunicorn.glogging import Logger

from app.logs import REDACTED, scrub

_SECRET_HEADERS = ("authorization", "cookie", "x-forwarded-authorization")
_ATOM = re.compile(r"%\(([^)]+)\)")


class ScrubbingLogger(Logger):
    """The access-log atoms the format names (request line, query, Referer, headers, environ)
    are scrubbed of `jwt=` values; Authorization and Cookie values are replaced outright.

    Only the named atoms are kept: gunicorn offers every header and environ value, and
    scrubbing them all cost more than the rest of a webhook delivery."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        offered = super().atoms(resp, req, environ, request_time)
        kept = {}
        for key in _named(self.cfg.access_log_format):
            if key in offered:
                value = offered[key]
                kept[key] = (REDACTED if _secret(key)
                             else scrub(value) if isinstance(value, str) else value)
        return kept


@functools.lru_cache(maxsize=8)
def _named(log_format: str) -> tuple[str, ...]:
    """The atoms a format names, as gunicorn looks them up (`{header}i` in lower case)."""
    return tuple(key.lower() if key.startswith("{") else key for key in _ATOM.findall(log_format))


@functools.lru_cache(maxsize=256)
def _secret(key: str) -> bool:
    name = key.lower().replace("http_", "").replace("_", "-")
    return any(secret in name for secret in _SECRET_HEADERS)
