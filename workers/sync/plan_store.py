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
_HEAD_END = ',"ops":['


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
    start = text.find(_HEAD_END)
    if start < 0 or not text.startswith("{"):
        return None
    try:
        head = json.loads(text[:start] + "}")
    except ValueError:
        return None
    if not isinstance(head, dict) or head.get("version") not in (1, 2):
        return None
    first = start + len(_HEAD_END)
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
    # A slice of the base64 at a time (a multiple of 4 characters decodes on its own), up
    # to the ops: a summary never decompresses the millions of ops behind it.
    stream, read, step = zlib.decompressobj(), "", 2**16
    for start in range(len(COMPRESSED), len(text), step):
        try:
            piece = stream.decompress(_packed(text, start, start + step)).decode("ascii",
                                                                                 "replace")
        except zlib.error as exc:
            raise PlanFormatError(f"compressed stored plan is damaged: {exc}") from None
        read += piece
        end = read.find(_HEAD_END, max(0, len(read) - len(piece) - len(_HEAD_END)))
        if end >= 0:
            return _json(read[:end] + "}")
    raise PlanFormatError("compressed stored plan has no ops")


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
