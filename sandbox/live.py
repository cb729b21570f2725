"""Serves any WSGI app on a free loopback port in a background thread, for tests and benches."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from werkzeug.serving import make_server


class LiveServer:
    """A threaded HTTP server on 127.0.0.1; use as a context manager, read `url`."""

    def __init__(self, app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0):
        self._server = make_server(host, port, app, threaded=True)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        # A short poll interval makes stop() quick; tests start and stop many servers.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"live-{self.port}", daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def half_then_drop(body: bytes, environ: dict[str, Any]) -> Iterator[bytes]:
    """A body that stops half-way: the first half, then the TCP connection closes, as when a
    server or proxy dies mid-answer (the caller has announced the whole length)."""
    yield body[: len(body) // 2]
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
