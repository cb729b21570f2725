"""The named vocabularies keep the stored and sent words exactly as they were."""

from __future__ import annotations

import json

from app import extensions
from app.models import Connection, Installation, SyncRun
from workers.sync.plan import APPLY_ORDER, REMOVAL_KINDS
from workers.vocabulary import OpKind, Outcome, RunStatus, Trigger


def test_members_are_their_strings_in_json_and_comparisons() -> None:
    assert json.dumps({"status": RunStatus.PARTIALLY_FAILED}) == '{"status": "partially_failed"}'
    assert RunStatus.HELD == "held" and Trigger.MANUAL == "manual"
    assert {"add_member": 1}[OpKind.ADD_MEMBER] == 1
    assert [o.value for o in Outcome] == ["applied", "failed", "skipped"]


def test_every_op_kind_has_one_place_in_the_apply_order() -> None:
    assert sorted(APPLY_ORDER) == sorted(OpKind) and len(set(APPLY_ORDER)) == len(OpKind)
    assert {OpKind.REMOVE_MEMBER, OpKind.SUSPEND_ACCESS} == REMOVAL_KINDS


def test_applied_statuses_are_the_ones_that_changed_the_site() -> None:
    assert {s for s in RunStatus if s.applied} == {RunStatus.SUCCEEDED, RunStatus.PARTIALLY_FAILED}


def test_a_stored_run_reads_back_the_same_words(app) -> None:  # type: ignore[no-untyped-def]
    with extensions.db.session() as s:
        inst = Installation(client_key="words", product_type="jira", base_url="https://w.atlassian.net")
        s.add(inst)
        s.flush()
        conn = Connection(installation_id=inst.id, name="c", kind="directory_file", settings={})
        s.add(conn)
        s.flush()
        run = SyncRun(connection_id=conn.id, trigger=Trigger.WEBHOOK, dry_run=False,
                      status=RunStatus.HELD, counts={})
        s.add(run)
        s.flush()
        run_id = run.id
    with extensions.db.session() as s:
        back = s.get(SyncRun, run_id)
        assert (back.trigger, back.status) == ("webhook", "held")
