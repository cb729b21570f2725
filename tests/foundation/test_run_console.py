"""What `usersync run` prints once it runs: one line per finished sync run, in order."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from app import extensions
from app.models import Connection, Installation, SyncRun
from app.run_console import RunWatcher


def _connection() -> int:
    with extensions.db.session() as session:
        inst = Installation(client_key="console-site", product_type="jira",
                            base_url="http://127.0.0.1:1")
        session.add(inst)
        session.flush()
        conn = Connection(installation_id=inst.id, name="HR", kind="directory_file", settings={})
        session.add(conn)
        session.flush()
        return conn.id


def test_each_finished_run_is_one_line_and_a_running_one_waits_its_turn(app):
    cid = _connection()
    start = datetime.now(UTC)
    with extensions.db.session() as session:
        session.add(SyncRun(connection_id=cid, trigger="manual", status="succeeded"))
    out = io.StringIO()
    watcher = RunWatcher(extensions.db, out=out)
    assert watcher.poll() == []  # runs from before it started are not news

    with extensions.db.session() as session:
        session.add(SyncRun(connection_id=cid, trigger="schedule", status="succeeded",
                            started_at=start, finished_at=start + timedelta(seconds=2.5),
                            counts={"applied_by_kind": {"add_member": 4, "remove_member": 0}}))
        running = SyncRun(connection_id=cid, trigger="manual", status="running", started_at=start)
        session.add(running)
        session.flush()
        running_id = running.id
        session.add(SyncRun(connection_id=cid, trigger="schedule", status="failed",
                            error="the IdP answered 503", started_at=start, finished_at=start))
    first = watcher.poll()
    assert len(first) == 1
    assert "sync #" in first[0] and "'HR' (schedule): succeeded, add member 4 in 2.5 s" in first[0]
    assert "remove member" not in first[0]

    with extensions.db.session() as session:
        run = session.get(SyncRun, running_id)
        run.status, run.finished_at, run.dry_run = "preview", start, True
        run.counts = {"planned": {"invite_user": 2}}
    later = watcher.poll()
    assert [line.split(" ", 1)[1].split(":")[0] for line in later] == [
        f"preview #{running_id} of 'HR' (manual)", f"sync #{running_id + 1} of 'HR' (schedule)"]
    assert "preview, invite user 2" in later[0]
    assert "failed (the IdP answered 503), no changes" in later[1]
    assert out.getvalue().splitlines() == first + later
    assert watcher.poll() == []
