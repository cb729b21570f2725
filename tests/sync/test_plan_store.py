"""A plan as a run stores it: the JSON written in pieces, compressed when long, read back."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from tests.sync.build import make_plan
from tests.sync.test_plan_json import sample_plan
from workers.sync import plan_store
from workers.sync.model import Group, Snapshot, User
from workers.sync.plan import Notice, Plan, PlanFormatError
from workers.sync.planner import Current, Links
from workers.sync.policy import SyncPolicy


def first_sync_plan(users: int = 30, groups: int = 4) -> Plan:
    """A first sync (every user invited, every group created) with member batches."""
    snap = Snapshot()
    for i in range(users):
        snap.add_user(User(f"u{i}", f"user{i}@corp.com", f"User {i}"))
    for j in range(groups):
        snap.add_group(Group(f"g{j}", f"team-{j}"))
        for i in range(j, users, j + 1):
            snap.add_member(f"g{j}", f"u{i}")
    return make_plan(snap, Current(), Links(), sync_policy=SyncPolicy(invite_products=("jira",)))


@pytest.mark.parametrize("per_piece", [1, 2, 7, 10_000])
def test_the_pieces_are_the_plan_json_whatever_their_size(per_piece):
    plan = first_sync_plan()
    plan.notices.append(Notice("x", 'ünïcode ✓ and ,"ops":[ in a message'))
    pieces = list(plan.json_chunks(per_piece))
    assert any(isinstance(row, dict) for row in json.loads("".join(pieces))["ops"])  # batches
    assert "".join(pieces) == json.dumps(plan.to_dict(), separators=(",", ":"))
    assert Plan.from_json("".join(pieces)) == plan
    if per_piece == 1:  # one piece per op at most: none holds the whole plan
        assert len(pieces) > len(plan.ops) // 2


def test_an_empty_plan_writes_the_same_json_in_pieces():
    assert Plan().to_json() == json.dumps(Plan().to_dict(), separators=(",", ":"))
    assert Plan.from_json(Plan().to_json()) == Plan()


def test_a_small_plan_is_stored_as_its_json():
    plan = sample_plan()
    text = plan_store.dump(plan)
    assert text == plan.to_json() and not plan_store.is_compressed(text)
    assert plan_store.load(text) == plan


def test_a_long_plan_is_stored_compressed_and_reads_back_the_same():
    plan = first_sync_plan()
    plan.notices.append(Notice("x", 'a message naming ,"ops":[ itself'))
    text = plan_store.dump(plan, compress_over=100)
    assert plan_store.is_compressed(text) and len(text) < len(plan.to_json())
    assert plan_store.load(text) == plan
    assert plan_store.json_text(text) == plan.to_json()
    head = plan_store.head(text)
    assert head == plan_store.head(plan.to_json())
    assert head["summary"] == plan.summary() and head["notices"][-1]["message"].endswith("itself")
    assert "ops" not in head and "emails" not in head


def test_the_summary_of_a_compressed_plan_is_read_without_its_ops():
    plan = first_sync_plan(users=3000, groups=50)
    text = plan_store.dump(plan, compress_over=0)
    damaged = text[:len(plan_store.COMPRESSED) + 2**16] + "!" * (len(text) // 2)
    # the head is in the first slice: the damage after it is never read
    assert plan_store.head(damaged)["summary"] == plan.summary()
    with pytest.raises(PlanFormatError, match="not base64"):
        plan_store.load(damaged)


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
def test_a_stored_version_1_plan_loads_through_the_store(separators):
    plan = sample_plan()
    rows = {**plan.to_dict(), "version": 1, "ops": [list(op) for op in plan.ops]}
    rows.pop("emails")
    text = json.dumps(rows, separators=separators)
    assert plan_store.load(text).ops == list(plan.ops)
    assert plan_store.head(text)["version"] == 1


def test_a_plan_in_another_json_layout_is_read_whole():
    plan = first_sync_plan()
    data = plan.to_dict()
    reordered = {"emails": data.pop("emails"), "ops": data.pop("ops"), **data}
    for text in (json.dumps(data | reordered, indent=2), json.dumps(reordered)):
        assert plan_store.load(text) == plan


def test_read_back_members_share_one_string_per_user():
    plan = plan_store.load(plan_store.dump(first_sync_plan(), compress_over=0))
    seen: dict[str, int] = {}
    for op in plan.ops:
        if op.idp_user_id:
            assert seen.setdefault(op.idp_user_id, id(op.idp_user_id)) == id(op.idp_user_id)
    assert len({id(op.reason) for op in plan.ops if op.kind == "invite_user"}) == 1


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.replace('["invite_user",', '["invite_user",7,', 1), "op 8 is not a row"),
    (lambda t: t.replace('],"emails":', ',],"emails":', 1), "not a JSON list"),
    (lambda t: t.replace('"idp_user_ids":["', '"idp_user_ids":[', 1), "ops are not JSON"),
    (lambda t: t.replace('["create_group"', '["explode"', 1), "unknown kind"),
])
def test_a_damaged_op_is_named_when_read_op_by_op(damage, message):
    text = first_sync_plan().to_json()
    assert '["invite_user",' in text and '"idp_user_ids":["' in text
    with pytest.raises(PlanFormatError, match=message):
        plan_store.load(damage(text))
    with pytest.raises(PlanFormatError, match=message):
        plan_store.load(plan_store.dump_chunks([damage(text)], compress_over=0))


@pytest.mark.parametrize("text, message", [
    ("zlib:AAAA", "damaged"),
    ("zlib:!!", "not base64"),
    ("zlib:" + base64.b64encode(zlib.compress(b'{"version":2,')).decode(), "not JSON"),
    ("[1, 2]", "not a JSON object|not a stored plan"),
    ("{", "not JSON"),
])
def test_unreadable_stored_plans_are_refused_clearly(text, message):
    with pytest.raises(PlanFormatError, match=message):
        plan_store.load(text)
    with pytest.raises(PlanFormatError):
        plan_store.head(text)
