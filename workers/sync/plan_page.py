"""One page of a stored plan's ops, read from its stored text without loading the plan."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from workers.sync import plan_store
from workers.sync.ops import MemberBatch, Op
from workers.sync.plan import (
    APPLY_ORDER,
    Notice,
    Plan,
    PlanFormatError,
    _batch_from_dict,
    _op_from_row,
)

# How the reader finds its way without parsing what it skips. In the compact JSON that
# `Plan.json_chunks` writes, a `"` not preceded by `\` is always a string's delimiter, and one
# right after `[`, `{` or `,` and before a letter opens a string; so each pattern below marks
# structure, never text inside an id, a name or an e-mail:
_ROW_AFTER = '],["'
"""A row's end and the next row's start (every row begins with its kind), or a string
ending in `],[` when followed by one of `_NOT_A_ROW`."""
_NOT_A_ROW = ('],[",', '],["]')
_BATCH_TO_BATCH = '},{"kind":"'
_BATCH_TO_ROW = '},['
_UIDS_LIST = re.compile(r'"idp_user_ids":\[([^\]]*)\]\}')
_ROWS_TO_BATCH = '],{"kind":"'
_ROWS_TO_END = ']],"emails":'
_BATCH_START = '{"kind":"'
_BATCH_UIDS = '"idp_user_ids":['
_OPS_END = '],"emails":{'
_decode = json.JSONDecoder().raw_decode


@dataclass(frozen=True, slots=True)
class PlanPage:
    """Ops `(index, op)` of one page, whether more match after them, and the plan's totals."""

    items: list[tuple[int, Op]]
    more: bool
    summary: dict[str, int]
    notices: list[Notice]


class _OtherLayout(Exception):
    """The text is valid in some other layout (or version 1): read it whole instead."""


def page(text: str, after: int | None, limit: int, kind: str | None = None) -> PlanPage:
    """The first `limit` ops after op index `after` (None: from the first) of the stored
    plan `text` (either form), of `kind` only if given.

    The text is read as a stream (a compressed one a slice at a time) and only the page's
    ops are made: rows and member batches before it are counted, not parsed. A page with
    batched members reads on to the plan's e-mail table for their e-mails. The totals are
    the stored head's. Texts in another layout are loaded whole. PlanFormatError when the
    text, or an op the page shows, is damaged; ops off the page are not checked."""
    first = 0 if after is None else after + 1
    try:
        return _PageReader(text, first, limit, kind).read()
    except _OtherLayout:
        return _page_of(plan_store.load(text), first, limit, kind)


def _page_of(plan: Plan, first: int, limit: int, kind: str | None) -> PlanPage:
    """The page from a loaded plan (texts in another layout)."""
    items: list[tuple[int, Op]] = []
    for index in range(first, len(plan.ops)):
        op = plan.ops[index]
        if kind and op.kind != kind:
            continue
        if len(items) == limit:
            return PlanPage(items, True, plan.summary(), list(plan.notices))
        items.append((index, op))
    return PlanPage(items, False, plan.summary(), list(plan.notices))


WINDOW = 2**18
"""Characters of a run of rows taken at a time: a compressed plan is read this much at once."""


def _last_row_start(buf: str, start: int) -> int:
    """Where the window's last `],["` that starts a row is (-1 if none)."""
    at = buf.rfind(_ROW_AFTER, start, len(buf) - 1)  # with the character that tells
    while at >= 0 and buf.startswith(_NOT_A_ROW, at):
        at = buf.rfind(_ROW_AFTER, start, at)
    return at


class _PageReader:
    """The scan behind `page`: the stored text read forward, an item of the ops at a time.
    Offsets are from the stream's `pos`, the start of the item being read."""

    def __init__(self, text: str, first: int, limit: int, kind: str | None):
        self.stream = plan_store.TextStream(text)
        self.first, self.limit, self.kind = first, limit, kind
        self.emails: dict[str, str | None] = {}  # filled from the table once the page is known
        self._one_by_one = (0, 0)  # (window, end): batches `_batch_run` left to `_batch`

    def read(self) -> PlanPage:
        head = self._head()
        summary = head.get("summary")
        if not isinstance(summary, dict) or not all(
                type(summary.get(k, 0)) is int for k in APPLY_ORDER):
            raise _OtherLayout
        checked = Plan.from_parts(head, (), {})  # the head's own checks, as a load makes them
        found: list[tuple[int, Any, int]] = []  # (index, op or batch, position in the batch)
        at_table = self._ops(found)
        shown, more = found[:self.limit], len(found) > self.limit
        uids = {part.idp_user_ids[pos] for _, part, pos in shown if isinstance(part, MemberBatch)}
        uids.discard(None)
        if uids:
            self._emails(uids, at_table)
        items = [(index, part.op(pos) if isinstance(part, MemberBatch) else part)
                 for index, part, pos in shown]
        return PlanPage(items, more, {k: summary.get(k, 0) for k in APPLY_ORDER},
                        list(checked.notices))

    def _head(self) -> dict[str, Any]:
        stream = self.stream
        end = stream.find(plan_store.HEAD_END)
        if end < 0 or not stream.startswith("{"):
            raise _OtherLayout
        try:
            head = json.loads(stream.buf[stream.pos:stream.pos + end] + "}")
        except ValueError:
            raise _OtherLayout from None
        if not isinstance(head, dict) or head.get("version") != 2:
            raise _OtherLayout
        stream.consume(end + len(plan_store.HEAD_END))
        return head

    def _ops(self, found: list[tuple[int, Any, int]]) -> bool:
        """Collect up to limit + 1 wanted ops; True if the scan reached the e-mail table
        (the stream is then at it)."""
        stream, index, want = self.stream, 0, self.limit + 1
        if stream.char(0) == "]":
            return self._at_table()
        while len(found) < want:
            char = stream.char(0)
            if char == "[":
                index, end = self._rows(index, found)
            elif char == "{":
                index, end = self._batch(index, found)
            else:
                raise _OtherLayout
            stream.consume(end)
            sep = stream.char(0)
            if sep == ",":
                stream.consume(1)
            elif sep == "]":
                return self._at_table()
            else:
                raise _OtherLayout
        return False

    def _at_table(self) -> bool:
        if not self.stream.startswith(_OPS_END):
            raise _OtherLayout
        self.stream.consume(len(_OPS_END) - 1)
        return True

    def _rows(self, index: int, found: list[tuple[int, Any, int]]) -> tuple[int, int]:
        """A run of rows, up to where it or the window ends: counted, and parsed only if it
        holds wanted ops. Returns (index after them, offset of their end)."""
        stream = self.stream
        while len(stream.buf) - stream.pos < WINDOW and stream.more():
            pass
        while True:
            buf, o = stream.buf, stream.pos
            ends = [e for e in (buf.find(_ROWS_TO_BATCH, o), buf.find(_ROWS_TO_END, o)) if e >= 0]
            if ends:
                end = min(ends) + 1
                break
            last = _last_row_start(buf, o)
            if last > o:
                end = last + 1
                break
            if not stream.more():
                raise PlanFormatError("stored plan's ops end unexpectedly")
        count = 1 + buf.count(_ROW_AFTER, o, end) - sum(buf.count(not_row, o, end)
                                                        for not_row in _NOT_A_ROW)
        kind = self.kind
        if index + count <= self.first or (kind and not (
                buf.startswith(f'["{kind}"', o) or buf.find(f'],["{kind}"', o, end) >= 0)):
            return index + count, end - o
        at, want = o, self.limit + 1
        for i in range(index, index + count):
            if i > index:
                if at >= end or buf[at] != ",":
                    raise PlanFormatError(f"stored plan's ops are not a JSON list (op {i})")
                at += 1
            try:
                row, at = _decode(buf, at)
            except ValueError as exc:
                raise PlanFormatError(f"stored plan's ops are not JSON: {exc}") from None
            if i >= self.first and (not kind or (isinstance(row, list) and row[:1] == [kind])):
                found.append((i, _op_from_row(i, row), 0))
                if len(found) == want:
                    return index + count, end - o
        if at != end:
            raise PlanFormatError(f"stored plan's ops are not a JSON list (near op {index})")
        return index + count, end - o

    def _batch_run(self, index: int) -> tuple[int, int] | None:
        """The batches from here to the window's last batch followed by a batch, counted
        together (a few C-level passes) when they hold no wanted op; None when they do, or
        when their text is not plain enough to count so."""
        stream = self.stream
        buf, o = stream.buf, stream.pos
        if self._one_by_one[0] == id(buf) and o < self._one_by_one[1]:
            return None
        end = buf.rfind(_BATCH_TO_BATCH, o) + 1
        if end <= 0:
            return None
        self._one_by_one = (id(buf), end)
        if buf.find("\\", o, end) >= 0 or buf.find(_BATCH_TO_ROW, o, end) >= 0:
            return None
        lists = _UIDS_LIST.findall(buf, o, end)
        if len(lists) != buf.count(_BATCH_START, o, end) or any(
                ids.count('"') % 2 for ids in lists):
            return None  # an id holding `]` or `]}`: read each batch
        ids = "".join(lists)
        if "null" in ids:
            return None
        members = ids.count('"') // 2
        if index + members > self.first and (
                not self.kind or buf.find(f'{{"kind":"{self.kind}"', o, end) >= 0):
            return None
        return index + members, end - o

    def _batch(self, index: int, found: list[tuple[int, Any, int]]) -> tuple[int, int]:
        """One member batch (or a run of them, see `_batch_run`): its members counted, and
        read whole only if it holds wanted ops (or its text is not plain enough to count)."""
        run = self._batch_run(index)
        if run is not None:
            return run
        stream = self.stream
        if not stream.startswith(_BATCH_START):
            raise _OtherLayout
        uids = stream.find(_BATCH_UIDS)
        end = stream.find("]}", uids + len(_BATCH_UIDS)) if uids >= 0 else -1
        if end < 0:
            raise PlanFormatError("stored plan's ops end unexpectedly")
        buf, o = stream.buf, stream.pos
        uids, end = o + uids + len(_BATCH_UIDS), o + end
        start = o + len(_BATCH_START)
        kind = buf[start:buf.find('"', start)]
        quotes = buf.count('"', uids, end)
        # Without escapes an even count of quotes puts `]}` outside every string; without
        # nulls each member is one string.
        if (quotes % 2 == 0 and buf.find("\\", o, end) < 0 and buf.find("null", uids, end) < 0
                and (index + quotes // 2 <= self.first or (self.kind and kind != self.kind))):
            return index + quotes // 2, end + 2 - o
        data, stop = self._decoded()
        batch = _batch_from_dict(index, data, self.emails, {})
        size = len(batch)
        if not self.kind or batch.kind == self.kind:
            for pos in range(max(0, self.first - index), size):
                found.append((index + pos, batch, pos))
                if len(found) > self.limit:
                    break
        return index + size, stop

    def _decoded(self) -> tuple[Any, int]:
        """The batch (a JSON object) at the stream's position, reading on until it is whole;
        with the offset of its end."""
        stream = self.stream
        while True:
            try:
                value, stop = _decode(stream.buf, stream.pos)
            except ValueError as exc:
                if not stream.more():
                    raise PlanFormatError(f"stored plan's ops are not JSON: {exc}") from None
                continue
            if not isinstance(value, dict):
                raise PlanFormatError("stored plan's op batch is not a JSON object")
            return value, stop - stream.pos

    def _emails(self, uids: set[str], at_table: bool) -> None:
        """The e-mails of `uids` from the table after the ops, a window of whole entries
        parsed at a time (C-level) and all but the wanted dropped."""
        stream = self.stream
        if not at_table and not stream.skip_to(_OPS_END):
            raise PlanFormatError("stored plan has no e-mail table")
        if not at_table:
            stream.consume(len(_OPS_END))
        else:
            stream.consume(1)
        wanted = set(uids)
        while wanted:
            while len(stream.buf) - stream.pos < WINDOW and stream.more():
                pass
            buf, o = stream.buf, stream.pos
            if stream.final:
                end = len(buf.rstrip()) - 2
                if buf[end:].rstrip() != "}}":
                    raise PlanFormatError("stored plan's e-mail table does not end the plan")
            else:  # after the last whole entry: a string or null value, then the next key
                string, null = buf.rfind('","', o), buf.rfind('null,"', o)
                end = max(string + 1 if string >= 0 else -1, null + 4 if null >= 0 else -1)
                if end <= o:
                    # no whole entry in the window: a piece more, or the end of the text
                    # (then `final`, and the table's end is looked for on the next pass)
                    stream.more()
                    continue
            try:
                entries = json.loads("{" + buf[o:end] + "}")
            except ValueError as exc:
                # The `","` taken for the last entry's end can be an escaped quote inside
                # an e-mail: read on until the whole table is in the window.
                if not stream.final:  # a piece more, or the end: read again either way
                    stream.more()
                    continue
                raise PlanFormatError(f"stored plan's e-mail table is not JSON: {exc}") from None
            for uid in wanted & entries.keys():
                value = entries[uid]
                if value is not None and not isinstance(value, str):
                    raise PlanFormatError("plan 'emails' must map IdP user ids to e-mails")
                self.emails[uid] = value
            wanted -= entries.keys()
            if stream.final:
                return  # users missing from the table have no e-mail, as when loaded
            stream.consume(end + 1 - o)
