"""A plan as a run's row stores it: its JSON when small, that JSON compressed when large."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from workers.sync.plan import Plan, PlanFormatError, bulk_allocation

COMPRESSED = "zlib:"
"""Prefix of a compressed stored plan: base64 of the zlib stream of the plan's JSON text.
Plain JSON always starts with `{`, so the two forms never mix up."""
COMPRESS_OVER = 4 * 2**20
"""Plans whose JSON is longer than this many characters are stored compressed: a first sync
at Atlassian's largest directory is hundreds of MB of JSON, and its text is never held whole
(the pieces are compressed as they are written). Smaller plans stay readable JSON."""
_LEVEL = 1  # the text is ids and e-mails: level 1 gets most of level 9's size at a fifth of the time
HEAD_END = ',"ops":['


def dump(plan: Plan, compress_over: int | None = None) -> str:
    """The text to store for `plan` (`Plan.to_json()`, or its compressed form when longer
    than `compress_over`, by default `COMPRESS_OVER`)."""
    return dump_chunks(plan.json_chunks(), compress_over)


def dump_chunks(chunks: Iterable[str], compress_over: int | None = None) -> str:
    """Stored text of a plan's JSON given in pieces: plain until it passes `compress_over`,
    then every piece so far and each one after it goes through one zlib stream."""
    limit = COMPRESS_OVER if compress_over is None else compress_over
    plain: list[str] = []
    size = 0
    pieces = iter(chunks)
    for piece in pieces:
        plain.append(piece)
        size += len(piece)
        if size > limit:
            break
    else:
        return "".join(plain)
    stream = zlib.compressobj(_LEVEL)
    packed = [stream.compress("".join(plain).encode())]
    del plain
    packed.extend(stream.compress(piece.encode()) for piece in pieces)
    packed.append(stream.flush())
    return COMPRESSED + base64.b64encode(b"".join(packed)).decode("ascii")


def is_compressed(text: str) -> bool:
    return text.startswith(COMPRESSED)


def json_text(text: str) -> str:
    """The plan's JSON text from a stored one of either form; PlanFormatError if unreadable."""
    if not is_compressed(text):
        return text
    try:
        return zlib.decompress(_packed(text)).decode()
    except (zlib.error, UnicodeDecodeError) as exc:
        raise PlanFormatError(f"compressed stored plan is damaged: {exc}") from None


def load(text: str) -> Plan:
    """The plan of a stored text of either form (and of any stored version `Plan` reads).

    A text in the layout `Plan.json_chunks` writes (every stored plan so far) is parsed one
    op at a time, each turned into its op before the next is read: at Atlassian's largest
    directory the whole parsed JSON would be gigabytes of short-lived lists and strings.
    Any other valid layout is parsed whole."""
    plain = json_text(text)
    with bulk_allocation():
        plan = _read_op_by_op(plain)
        return plan if plan is not None else Plan.from_json(plain)


_EMAILS_AT = '],"emails":'
_decode = json.JSONDecoder().raw_decode


def _read_op_by_op(text: str) -> Plan | None:
    """The plan, read an op at a time; None if `text` is not in the written layout."""
    start = text.find(HEAD_END)
    if start < 0 or not text.startswith("{"):
        return None
    try:
        head = json.loads(text[:start] + "}")
    except ValueError:
        return None
    if not isinstance(head, dict) or head.get("version") not in (1, 2):
        return None
    first = start + len(HEAD_END)
    emails: Any = None
    if head["version"] == 2:
        stop = text.rfind(_EMAILS_AT)  # quotes in strings are escaped: only ours match
        if stop < first - 1:
            return None
        try:
            emails, end = _decode(text, stop + len(_EMAILS_AT))
        except ValueError:
            return None
        if text[end:].strip() != "}":
            return None
    else:
        stop = len(text.rstrip()) - 2
        if text[stop:].rstrip() != "]}":
            return None
    return Plan.from_parts(head, _elements(text, first, stop), emails)


def _elements(text: str, start: int, stop: int) -> Iterator[Any]:
    """The values of the JSON list whose items run from `start` to `stop` (its `]`)."""
    at = start
    while at < stop:
        try:
            value, at = _decode(text, at)
        except ValueError as exc:
            raise PlanFormatError(f"stored plan's ops are not JSON: {exc}") from None
        yield value
        if at < stop:
            if text[at] != "," or at + 1 == stop:
                raise PlanFormatError(f"stored plan's ops are not a JSON list (at {at})")
            at += 1
    if at != stop:
        raise PlanFormatError("stored plan's ops run past their list")


def head(text: str) -> dict[str, Any]:
    """The stored plan's keys before its ops (version, summary, stats, notices, groups,
    invite_domains, fields), without reading the ops: what a run's summary shows."""
    if not is_compressed(text):
        data = _json(text)
        return {k: v for k, v in data.items() if k not in ("ops", "emails")}
    # A summary never decompresses the millions of ops behind it.
    stream = TextStream(text)
    end = stream.find(HEAD_END)
    if end < 0:
        raise PlanFormatError("compressed stored plan has no ops")
    return _json(stream.buf[:end] + "}")


class TextStream:
    """A stored plan's JSON text read forward: `buf[pos:]` is what is not consumed yet.

    A plain text is there whole; a compressed one is decompressed a slice at a time as
    `more` asks for it, so a reader holds a window of it, never the whole plan. `more`
    moves the unconsumed text to the start of `buf` (positions before it are gone)."""

    __slots__ = ("buf", "pos", "final", "_pieces")

    def __init__(self, text: str):
        self.pos = 0
        if is_compressed(text):
            self.buf, self.final, self._pieces = "", False, _inflated(text)
        else:
            self.buf, self.final, self._pieces = text, True, iter(())

    def more(self) -> bool:
        """Append the next piece (dropping what is consumed); False at the end."""
        piece = next(self._pieces, None)
        if piece is None:
            self.final = True
            return False
        self.buf, self.pos = self.buf[self.pos:] + piece, 0
        return True

    def consume(self, offset: int) -> None:
        """Mark `offset` more characters as read."""
        self.pos += offset

    def char(self, offset: int) -> str:
        """The character `offset` after `pos` ("" past the end)."""
        while self.pos + offset >= len(self.buf):
            if not self.more():
                return ""
        return self.buf[self.pos + offset]

    def startswith(self, prefix: str, offset: int = 0) -> bool:
        while len(self.buf) < self.pos + offset + len(prefix) and self.more():
            pass
        return self.buf.startswith(prefix, self.pos + offset)

    def find(self, sub: str, offset: int = 0) -> int:
        """Offset from `pos` of the first `sub` at or after `offset`, reading on; -1 if none."""
        while True:
            at = self.buf.find(sub, self.pos + offset)
            if at >= 0:
                return at - self.pos
            offset = max(offset, len(self.buf) - self.pos - len(sub) + 1)
            if not self.more():
                return -1

    def skip_to(self, sub: str) -> bool:
        """Consume up to the next `sub` (holding no more than a window); False if none."""
        while True:
            at = self.buf.find(sub, self.pos)
            if at >= 0:
                self.pos = at
                return True
            self.pos = max(self.pos, len(self.buf) - len(sub) + 1)
            if not self.more():
                return False


_STEP = 2**16
"""Base64 characters per slice (a multiple of 4 decodes on its own): about a quarter MB of
plan JSON."""


def _inflated(text: str) -> Iterator[str]:
    stream = zlib.decompressobj()
    try:
        for start in range(len(COMPRESSED), len(text), _STEP):
            piece = stream.decompress(_packed(text, start, start + _STEP))
            if piece:
                yield piece.decode("ascii", "replace")  # the JSON is written ASCII-only
        rest = stream.flush()
    except zlib.error as exc:
        raise PlanFormatError(f"compressed stored plan is damaged: {exc}") from None
    if not stream.eof:
        raise PlanFormatError("compressed stored plan is damaged: it is cut short")
    if rest:
        yield rest.decode("ascii", "replace")


def _packed(text: str, start: int = len(COMPRESSED), stop: int | None = None) -> bytes:
    try:
        return base64.b64decode(text[start:stop], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PlanFormatError(f"compressed stored plan is not base64: {exc}") from None


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanFormatError(f"stored plan is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PlanFormatError("stored plan is not a JSON object")
    return data
