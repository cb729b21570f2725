"""gunicorn's access log without tokens: `--logger-class app.access_log.ScrubbingLogger`."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from app.logs import REDACTED, scrub

_SECRET_HEADERS = ("authorization", "cookie", "x-forwarded-authorization")


class ScrubbingLogger(Logger):
    """Every access-log atom (request line, query, Referer, headers, environ) is scrubbed of
    `jwt=` values; Authorization and Cookie values are replaced outright."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if any(name in key.lower().replace("http_", "").replace("_", "-") for name in _SECRET_HEADERS):
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = scrub(value)
        return atoms
