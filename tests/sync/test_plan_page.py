"""A page of a stored plan read from its text: the same ops as paging the loaded plan."""

from __future__ import annotations

import json

import pytest

from tests.sync.test_plan_json import sample_plan
from tests.sync.test_plan_store import first_sync_plan
from workers.sync import plan_page, plan_store
from workers.sync.ops import MemberBatch, Op, Ops
from workers.sync.plan import APPLY_ORDER, Notice, Plan, PlanFormatError

# Texts that look like the stored structure the reader finds its way by, in every field.
TRAPS = ('],["create_group', '],{"kind":"', ']],"emails":', ']}', '},["l', 'back\\slash "q"',
         'null', 'ünï ✓', '],"emails":{"u1":', 'x],[', 'y],{', 'z]}')


def tricky_plan() -> Plan:
    """Every kind, member batches with and without accounts and with null ids, and the
    structure's own patterns inside names, ids and e-mails."""
    emails = {f"u{i}": f"user{i}{TRAPS[i % len(TRAPS)]}@x.com" for i in range(12)}
    emails["u]}"] = None
    rows = [Op("create_group", group_name=f"g{t}", group_ref=f"r{i}") for i, t in enumerate(TRAPS)]
    rows += [Op("link_group", idp_group_id=f"ig{t}", group_ref=f"r{i}")
             for i, t in enumerate(TRAPS)]
    rows += [Op("invite_user", idp_user_id=f"u{i}", email=emails[f"u{i}"], display_name=t,
                products=("jira", t), reason=t) for i, t in enumerate(TRAPS)]
    batches = [MemberBatch("add_member", None, f"g{t}", f"r{i}", None,
                           [f"u{j}" for j in range(i, 12, 2)] + ["u]}"], emails, t)
               for i, t in enumerate(TRAPS)]
    batches.append(MemberBatch("add_member", "G1", "plain", None, ["a1", "a2", None],
                               [None, "u1", "u2"], emails))
    batches.append(MemberBatch("add_member", "G2", "nul", None, None, ["null1", "u3"], emails))
    tail = [Op("remove_member", group_id=f"G{t}", account_id=f"a{t}", reason=t) for t in TRAPS]
    tail += [Op("suspend_access", account_id=f"a{t}") for t in TRAPS]
    plan = Plan(ops=Ops([rows, *batches, tail]), notices=[Notice("n", TRAPS[0])])
    assert plan_store.load(plan.to_json()) == plan
    return plan


def paged(plan: Plan, after: int | None, limit: int, kind: str | None
          ) -> tuple[list[tuple[int, Op]], bool]:
    """The page as a walk over the loaded plan's ops makes it."""
    wanted = [(i, op) for i, op in enumerate(plan.ops)
              if i > (-1 if after is None else after) and (not kind or op.kind == kind)]
    return wanted[:limit], len(wanted) > limit


@pytest.fixture(params=["whole", "small pieces"])
def pieces(request, monkeypatch):
    """Slices of a compressed text and row windows as large as usual, or tiny ones, so
    items and e-mail entries are cut at every place."""
    if request.param == "small pieces":
        monkeypatch.setattr(plan_store, "_STEP", 8)
        monkeypatch.setattr(plan_page, "WINDOW", 40)


@pytest.mark.parametrize("make", [tricky_plan, sample_plan, lambda: first_sync_plan(60, 5),
                                  Plan])
@pytest.mark.parametrize("compress_over", [None, 0])
def test_every_page_is_the_page_of_the_loaded_plan(make, compress_over, pieces):
    plan = make()
    text = plan_store.dump(plan, compress_over=compress_over)
    assert plan_store.is_compressed(text) is (compress_over == 0)
    for kind in (None, *APPLY_ORDER):
        for limit in (1, 3, 50):
            after = None
            while True:  # first, middle and last pages, as the cursor walks them
                got = plan_page.page(text, after, limit, kind)
                assert (got.items, got.more) == paged(plan, after, limit, kind), (kind, after)
                assert got.summary == plan.summary() and got.notices == plan.notices
                if not got.more:
                    break
                after = got.items[-1][0]
    for after in range(len(plan.ops) + 1):  # a page from any index
        assert plan_page.page(text, after, 2).items == paged(plan, after, 2, None)[0]


def test_the_page_of_a_first_sync_names_each_member_with_the_email_stored_once():
    plan = first_sync_plan()
    text = plan_store.dump(plan, compress_over=0)
    first = plan.summary()["create_group"] + plan.summary()["link_group"]
    got = plan_page.page(text, None, 5, "add_member").items
    assert got[0][0] == first + plan.summary()["invite_user"]
    assert [op.email for _, op in got] == [f"user{op.idp_user_id[1:]}@corp.com" for _, op in got]


@pytest.mark.parametrize("layout", [
    lambda data: json.dumps(data, indent=2),
    lambda data: json.dumps({**data, "version": 1, "ops": [list(op) for op in tricky_plan().ops
                                                          if op.kind != "add_member"],
                             "emails": None}),
])
def test_a_text_in_another_layout_pages_as_loaded(layout):
    text = layout(tricky_plan().to_dict())
    plan = plan_store.load(text)
    for after in (None, 3, len(plan.ops) - 2):
        got = plan_page.page(text, after, 4, None)
        assert (got.items, got.more) == paged(plan, after, 4, None)


def test_the_first_page_never_reads_the_damage_far_behind_it():
    plan = first_sync_plan(users=3000, groups=50)
    text = plan_store.dump(plan, compress_over=0)
    damaged = text[:len(plan_store.COMPRESSED) + 2**16] + "!" * (len(text) // 2)
    assert plan_page.page(damaged, None, 50).items == paged(plan, None, 50, None)[0]
    with pytest.raises(PlanFormatError, match="not base64"):
        plan_page.page(damaged, len(plan.ops) - 10, 50)


@pytest.mark.parametrize("damage, after, message", [
    (lambda t: t.replace('["invite_user",', '["invite_user",7,', 1), 7, "op 8 is not a row"),
    (lambda t: t.replace('["create_group"', '["explode"', 1), None, "unknown kind"),
    (lambda t: t.replace('"idp_user_ids":["', '"idp_user_ids":[', 1), 60, "ops are not JSON"),
    (lambda t: t.replace('],"emails":', '],"emails":[', 1), 60, "e-mail"),
    (lambda t: t[:len(t) // 2], 60, "end unexpectedly|not JSON|not a JSON"),
])
def test_a_damaged_op_on_the_page_is_refused_clearly(damage, after, message):
    text = damage(first_sync_plan().to_json())
    for stored in (text, plan_store.dump_chunks([text], compress_over=0)):
        with pytest.raises(PlanFormatError, match=message):
            plan_page.page(stored, after, 10, None)


@pytest.mark.parametrize("text, message", [
    ("zlib:AAAA", "damaged"),
    ("zlib:!!", "not base64"),
    ("zlib:" + plan_store.dump(sample_plan(), compress_over=0)[5:-200], "cut short"),
    ("[1, 2]", "not a JSON object|not a stored plan"),
    ("{", "not JSON"),
    ('{"version":2,"summary":{},"ops":[', "not JSON|fields"),
])
def test_unreadable_stored_plans_are_refused_clearly(text, message):
    with pytest.raises(PlanFormatError, match=message):
        plan_page.page(text, None, 1000)  # a page that reads to the end
