"""A webhook storm against the app as production serves it: the Procfile's `web` command, and
light sender processes (raw keep-alive sockets) that are not the bottleneck."""

from __future__ import annotations

import json
import os
import pickle
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]


def procfile_web(root: Path = ROOT) -> str:
    """The Procfile's `web` command, as a Procfile host runs it (through a shell)."""
    for line in (root / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError("the Procfile has no web process")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Web:
    """The running `web` process: its base URL and the CPU its processes have used."""

    def __init__(self, base: str, pid: int):
        self.base, self.pid = base, pid

    def cpu_seconds(self) -> float:
        """CPU seconds of the gunicorn master and its workers so far (Linux /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a process that just ended
            if int(entry.name) == self.pid or int(fields[1]) == self.pid:
                total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def settle(self, timeout: float = 120) -> None:
        """Wait until every worker has booted: the first answers while the others still
        import the app, and that import would be counted against the storm."""
        deadline = time.monotonic() + timeout
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now - before < 0.05:
                return
            before = now
        raise RuntimeError("the web processes kept busy without any request")


@contextmanager
def production_web(config: dict[str, Any], workers: int | None = None) -> Iterator[Web]:
    """The Procfile's `web` process on a free port with the bench's `config` in its environment.
    `workers` sets WEB_CONCURRENCY (unset: the Procfile's default)."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": config["DATABASE_URL"],
           "REDIS_URL": config["REDIS_URL"], "USERSYNC_SECRET_KEYS": ",".join(config["SECRET_KEYS"]),
           "USERSYNC_INSTANCE_PATH": config["INSTANCE_PATH"],
           "USERSYNC_ALLOW_PRIVATE_URLS": "true" if config.get("ALLOW_PRIVATE_URLS") else "false",
           "USERSYNC_LOG_LEVEL": config.get("LOG_LEVEL", "WARNING"),
           "USERSYNC_LOG_FORMAT": config.get("LOG_FORMAT", "json"),
           "USERSYNC_BASE_URL": f"http://127.0.0.1:{port}",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    # the access log goes to stdout as in production; here nobody reads it
    process = subprocess.Popen(["sh", "-c", "exec " + procfile_web()], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(port, process)
        web = Web(base, process.pid)
        web.settle()
        yield web
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited: " + process.stderr.read().decode()[-2000:])
        try:
            status, _ = _exchange(socket.create_connection(("127.0.0.1", port), timeout=5),
                                  f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                  "Connection: close\r\n\r\n".encode())
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not start serving within 60 s")


def request_bytes(url: str, body: str, headers: dict[str, str]) -> bytes:
    """One POST as sent on a keep-alive connection, built before the clock starts."""
    parts = urlsplit(url)
    data = body.encode()
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}",
             f"Content-Length: {len(data)}", "Connection: keep-alive",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, bool]:
    """Send one request, read its whole response; (status, the server keeps the connection)."""
    sock.sendall(request)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection before answering")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lowered = head.lower()
    match = re.search(rb"\r\ncontent-length: *(\d+)", lowered)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-body")
        rest += chunk
    status = _STATUS.match(head)
    return (int(status.group(1)) if status else 0), b"\r\nconnection: close" not in lowered


def _send_all(address: tuple[str, int], requests: list[bytes], threads: int) -> dict[str, Any]:
    """`threads` keep-alive connections share `requests`: statuses, seconds per request, the
    first send and last answer (wall clock, comparable across processes), CPU seconds used."""
    statuses: list[int] = []
    seconds: list[float] = []
    lock = threading.Lock()
    work = iter(requests)

    def connection() -> None:
        sock = _connect(address)
        while True:
            with lock:
                request = next(work, None)
            if request is None:
                break
            began = time.perf_counter()
            try:
                status, keep = _exchange(sock, request)
            except OSError:
                status, keep = 0, False
            took = time.perf_counter() - began
            with lock:
                statuses.append(status)
                seconds.append(took)
            if not keep:  # a sync worker closes after each answer: connect again
                sock.close()
                sock = _connect(address)
        sock.close()

    cpu, first = time.process_time(), time.time()
    pool = [threading.Thread(target=connection) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {"statuses": statuses, "seconds": seconds, "first": first, "last": time.time(),
            "cpu": time.process_time() - cpu}


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def storm(url: str, requests: list[bytes], processes: int = 2,
          threads: int = 8) -> dict[str, Any]:
    """Send every request as fast as `processes` × `threads` keep-alive connections allow.

    Each sender is this file run as a script (stdlib only, so it starts in a blink and takes
    no CPU from the server but its sending); the clock starts once all of them are ready.
    Returns statuses, seconds each request took, seconds from the first send to the last
    answer, and the senders' CPU seconds."""
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    senders = [subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE) for _ in range(processes)]
    for n, sender in enumerate(senders):
        pickle.dump((address, requests[n::processes], threads), sender.stdin)
        sender.stdin.flush()
    for sender in senders:
        if sender.stdout.readline().strip() != b"ready":
            raise RuntimeError("a sender did not start")
    for sender in senders:  # the start line
        sender.stdin.write(b"go\n")
        sender.stdin.close()
    outcomes = [json.loads(sender.stdout.read()) for sender in senders]
    for sender in senders:
        sender.wait(timeout=30)
    return {"statuses": [s for o in outcomes for s in o["statuses"]],
            "seconds": [s for o in outcomes for s in o["seconds"]],
            "elapsed": max(o["last"] for o in outcomes) - min(o["first"] for o in outcomes),
            "sender_cpu_seconds": sum(o["cpu"] for o in outcomes)}


def _sender_main() -> None:
    address, requests, threads = pickle.load(sys.stdin.buffer)
    print("ready", flush=True)
    sys.stdin.buffer.readline()
    outcome = _send_all(tuple(address), requests, threads)
    sys.stdout.write(json.dumps(outcome))


def command_line(workers: int | None) -> str:
    """The web command as run, for the report."""
    shown = procfile_web()
    return f"WEB_CONCURRENCY={workers} {shown}" if workers else shown


if __name__ == "__main__":
    _sender_main()
