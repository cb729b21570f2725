"""`jwt=` query values never reach a log line: our own logs, werkzeug's and gunicorn's access log."""

from __future__ import annotations

import datetime
import io
import logging
import types

from gunicorn.config import Config
from gunicorn.glogging import SafeAtoms

from app import logs
from app.access_log import ScrubbingLogger
from app.logs import REDACTED

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJjbGllbnQtYSJ9.c2lnbmF0dXJl"


def test_scrub_replaces_plain_and_encoded_jwt_values():
    assert logs.scrub(f"GET /admin?jwt={TOKEN}&xdm_e=x") == "GET /admin?jwt=[redacted]&xdm_e=x"
    assert logs.scrub(f"/admin?lic=none&JWT={TOKEN}") == "/admin?lic=none&JWT=[redacted]"
    assert TOKEN not in logs.scrub(f"https://app/admin%3Fjwt%3D{TOKEN}%26a%3D1")
    assert logs.scrub("nothing to hide, myjwt=kept") == "nothing to hide, myjwt=kept"


def test_log_records_are_scrubbed():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ScrubFilter())
    handler.setFormatter(logs.JSONFormatter())
    logger = logging.getLogger("test.scrub")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('127.0.0.1 - - "GET /admin?jwt=%s HTTP/1.1" 200 -', TOKEN)
    finally:
        logger.removeHandler(handler)
    assert TOKEN not in stream.getvalue() and "jwt=[redacted]" in stream.getvalue()


def test_the_app_log_handler_scrubs():
    logs.setup()
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "_usersync", False)]
    assert any(isinstance(f, logs.ScrubFilter) for f in handler.filters)


def test_gunicorn_access_log_is_scrubbed():
    logger = ScrubbingLogger(Config())
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/admin?jwt={TOKEN}&xdm_e=x",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/admin",
               "QUERY_STRING": f"jwt={TOKEN}&xdm_e=x", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_REFERER": f"https://site.atlassian.net/x?jwt={TOKEN}",
               "HTTP_AUTHORIZATION": f"JWT {TOKEN}"}
    req = types.SimpleNamespace(headers=[("AUTHORIZATION", f"JWT {TOKEN}"),
                                         ("REFERER", environ["HTTP_REFERER"])])
    resp = types.SimpleNamespace(status="200 OK", sent=10, headers=[])
    atoms = logger.atoms(resp, req, environ, datetime.timedelta(milliseconds=5))
    line = logger.cfg.access_log_format % atoms
    assert TOKEN not in line and "jwt=[redacted]" in line
    assert all(TOKEN not in str(value) for value in atoms.values())


def test_an_access_log_format_naming_secret_headers_logs_them_redacted():
    config = Config()
    config.set("access_log_format", '%(h)s "%(r)s" %({Authorization}i)s %({cookie}i)s %({x-none}i)s')
    logger = ScrubbingLogger(config)
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": f"/webhooks/x?jwt={TOKEN}",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/webhooks/x",
               "QUERY_STRING": f"jwt={TOKEN}", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_AUTHORIZATION": f"whsec_{TOKEN}", "HTTP_COOKIE": f"session={TOKEN}"}
    req = types.SimpleNamespace(headers=[("AUTHORIZATION", f"whsec_{TOKEN}"),
                                         ("COOKIE", f"session={TOKEN}")])
    resp = types.SimpleNamespace(status="200 OK", sent=10, headers=[])
    atoms = logger.atoms(resp, req, environ, datetime.timedelta(milliseconds=5))
    line = config.access_log_format % SafeAtoms(atoms)
    assert TOKEN not in line and line.count(REDACTED) == 3 and line.endswith(" -")
    assert set(atoms) == {"h", "r", "{authorization}i", "{cookie}i"}, "only what the format names"
