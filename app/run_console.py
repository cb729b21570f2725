"""What `usersync run` shows: process logs go to files, the terminal gets the set-up steps,
a summary, the URLs, and one line per sync run."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from workers.vocabulary import RunStatus


class LogFiles:
    """A honcho printer that writes each process's lines to `<folder>/<name>.log`."""

    width = 0  # honcho sets it; the files need no padding

    def __init__(self, folder: Path, terminal: TextIO = sys.stdout):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.terminal = folder, terminal
        self._files: dict[str, TextIO] = {}
        self.stopping = False  # set when we stop the processes ourselves: their ends are no news

    def write(self, message: Any) -> None:
        name = message.name or "system"
        data = message.data.decode("utf-8", "replace") if isinstance(message.data, bytes) else message.data
        out = self._files.get(name)
        if out is None:
            out = self._files[name] = (self.folder / f"{name}.log").open("a", encoding="utf-8")
        stamp = message.time.strftime("%H:%M:%S")
        for line in data.splitlines():
            out.write(f"{stamp} {line}\n")
        out.flush()
        if name == "system" and " received" in data and not self.stopping:
            self.stopping = True  # Ctrl-C (SIGINT) or SIGTERM: honcho stops every process
            self.terminal.write("stopping every process it started ...\n")
            self.terminal.flush()
        if name == "system" and " stopped (rc=" in data and not self.stopping:
            # a process ending is news: either Ctrl-C, or something to look at in its log
            proc = data.split(" ", 1)[0]
            self.terminal.write(f"  {data.strip()}  (log: {self.folder / (proc + '.log')})\n")
            self.terminal.flush()


class Progress:
    """`[3/8] installing … done (1.2 s)`, one line per step."""

    def __init__(self, total: int, out: TextIO = sys.stdout):
        self.total, self.out, self.n = total, out, 0

    def step(self, title: str, action: Callable[[], str | None]) -> None:
        self.n += 1
        self.out.write(f"[{self.n}/{self.total}] {title} ... ")
        self.out.flush()
        started = time.monotonic()
        try:
            note = action()
        except BaseException:
            self.out.write("FAILED\n")
            self.out.flush()
            raise
        took = time.monotonic() - started
        self.out.write(f"done ({took:.1f} s){': ' + note if note else ''}\n")
        self.out.flush()


def run_line(run: Any, connection_name: str) -> str:
    """One line for a finished run: when, which connection, why, how it ended, what changed."""
    counts = run.counts or {}
    kinds = counts.get("applied_by_kind") or ({} if not run.dry_run else counts.get("planned")) or {}
    changed = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in kinds.items() if v) or "no changes"
    took = ""
    if run.finished_at and run.started_at:
        took = f" in {(_aware(run.finished_at) - _aware(run.started_at)).total_seconds():.1f} s"
    when = _aware(run.finished_at or run.started_at).astimezone().strftime("%H:%M:%S")
    kind = "preview" if run.dry_run else "sync"
    detail = f" ({run.error or run.reason})" if run.status not in (RunStatus.SUCCEEDED, RunStatus.PREVIEW) and (
        run.error or run.reason) else ""
    return (f"{when} {kind} #{run.id} of {connection_name!r} ({run.trigger}): "
            f"{run.status}{detail}, {changed}{took}")


def _aware(moment: Any) -> Any:
    """SQLite hands datetimes back without their zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RunWatcher:
    """Polls the runs table and prints one line per run that ended since it started watching."""

    def __init__(self, db: Any, out: TextIO = sys.stdout, interval: float = 2.0,
                 stopping: Callable[[], bool] = lambda: False):
        from app.models import SyncRun

        self.db, self.out, self.interval, self.stopping = db, out, interval, stopping
        with db.session() as session:
            self.seen = max(session.scalars(select(SyncRun.id)).all(), default=0)
        self._stop = threading.Event()

    def start(self) -> RunWatcher:
        threading.Thread(target=self._loop, name="run-watcher", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval) and not self.stopping():
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - the watcher must not end the product
                self.out.write(f"(cannot read the runs table: {exc})\n")

    def poll(self) -> list[str]:
        """Print the runs that ended since the last poll, in order; returns the lines."""
        from app.models import Connection, SyncRun

        lines = []
        with self.db.session() as session:
            runs = session.scalars(select(SyncRun).where(SyncRun.id > self.seen)
                                   .order_by(SyncRun.id)).all()
            for run in runs:
                if run.finished_at is None:
                    break  # keep the order: a later run is shown once this one ends
                conn = session.get(Connection, run.connection_id)
                lines.append(run_line(run, conn.name if conn else str(run.connection_id)))
                self.seen = run.id
        for line in lines:
            self.out.write(line + "\n")
        self.out.flush()
        return lines
