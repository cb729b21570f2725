"""WSGI entry point for gunicorn (`gunicorn app.wsgi:application`)."""

import sys

from app import create_app
from app.config import ConfigError
from app.crypto import KeyRingError

try:
    application = create_app()
except (ConfigError, KeyRingError) as exc:
    # one line instead of a traceback; exit code 3 is gunicorn's "worker failed to boot",
    # which stops the arbiter rather than respawning a worker that cannot start
    print(f"usersync refuses to start: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(3) from None
