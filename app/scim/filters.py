"""SCIM filter grammar (RFC 7644 §3.4.2.2): text → a small AST, plus PATCH paths that reuse it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.scim.errors import ScimError, invalid_filter, invalid_path
from app.scim.text import storable

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
MAX_FILTER_LENGTH = 4096
# Nesting (parentheses, value paths and `not`) and the number of comparisons are bounded, so
# neither the parser's recursion nor the SQL it compiles to can grow without limit.
MAX_DEPTH = 32
MAX_TERMS = 100

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<punct>[()\[\]])
    | (?P<word>[A-Za-z0-9_$:.\-+]+)
    )""", re.VERBOSE)
_ATTRIBUTE = re.compile(r"[a-z0-9_$:.\-]+")


@dataclass(frozen=True)
class Compare:
    """`path op value`; `path` is lower-cased and dotted (`emails.value`)."""

    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class Present:
    path: str


@dataclass(frozen=True)
class Junction:
    """Two filters joined; `And` and `Or` differ only in what they mean."""

    left: Node
    right: Node


class And(Junction):
    """Both sides match."""


class Or(Junction):
    """Either side matches."""


@dataclass(frozen=True)
class Not:
    inner: Node


@dataclass(frozen=True)
class ValuePath:
    """`attr[filter]`: the inner filter's paths are relative to the items of `attr`."""

    path: str
    inner: Node


Node = Compare | Present | And | Or | Not | ValuePath


def tokenize(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs; kinds are string, punct, word."""
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise invalid_filter(f"unexpected character at position {pos}: {text[pos:pos + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent: or-expr := and-expr ("or" and-expr)*; and-expr := factor ("and" factor)*."""

    def __init__(self, tokens: list[tuple[str, str]], prefix: str = ""):
        self.tokens = tokens
        self.pos = 0
        self.prefix = prefix
        self.depth = 0
        self.terms = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise invalid_filter("the filter ends too early")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def expect(self, punct: str) -> None:
        kind, text = self.take()
        if (kind, text) != ("punct", punct):
            raise invalid_filter(f"expected {punct!r}, found {text!r}")

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise invalid_filter(f"the filter nests more than {MAX_DEPTH} levels deep")

    def or_expr(self) -> Node:
        self.deeper()
        node = self.and_expr()
        while self.keyword("or"):
            node = Or(node, self.and_expr())
        self.depth -= 1
        return node

    def and_expr(self) -> Node:
        node = self.factor()
        while self.keyword("and"):
            node = And(node, self.factor())
        return node

    def factor(self) -> Node:
        if self.keyword("not"):
            # `not not not ...` recurses like parentheses do, so it counts towards the depth.
            self.deeper()
            node = Not(self.factor())
            self.depth -= 1
            return node
        if self.peek() == ("punct", "("):
            self.take()
            node = self.or_expr()
            self.expect(")")
            return node
        kind, text = self.take()
        if kind != "word":
            raise invalid_filter(f"expected an attribute name, found {text!r}")
        path = self.prefix + normalise_attr(text)
        if self.peek() == ("punct", "["):
            self.take()
            prefix, self.prefix = self.prefix, ""
            node = self.or_expr()
            self.prefix = prefix
            self.expect("]")
            return ValuePath(path, node)
        return self.comparison(path)

    def comparison(self, path: str) -> Node:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise invalid_filter(f"the filter has more than {MAX_TERMS} comparisons")
        kind, op = self.take()
        op = op.lower()
        if kind != "word" or (op not in COMPARE_OPS and op != "pr"):
            raise invalid_filter(f"unknown operator {op!r}")
        if op == "pr":
            return Present(path)
        return Compare(path, op, literal(self.take()))


def literal(token: tuple[str, str]) -> Any:
    """A comparison value: JSON string, number, true, false or null."""
    kind, text = token
    if kind == "string":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise invalid_filter(f"{text[:40]!r} is not a valid JSON string: {exc}") from None
        if not storable(value):
            raise invalid_filter("a filter value must not contain NUL or unpaired surrogates")
        return value
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return json.loads(text, parse_constant=_not_a_number)
    except ValueError:
        raise invalid_filter(f"{text[:40]!r} is not a value (strings need double quotes)") \
            from None


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")



def normalise_attr(text: str) -> str:
    """Lower-case an attribute path; an extension URN prefix stays, joined with ':'."""
    return text.lower()


def parse_filter(text: str) -> Node:
    """Parse a whole filter; every syntax problem is a 400 invalidFilter."""
    if not text or not text.strip():
        raise invalid_filter("the filter is empty")
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_filter(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    parser = _Parser(tokenize(text))
    node = parser.or_expr()
    if parser.peek() is not None:
        raise invalid_filter(f"unexpected {parser.peek()[1]!r} after the filter")  # type: ignore[index]
    return node


@dataclass(frozen=True)
class PatchPath:
    """A PATCH target: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub` (all lower-case)."""

    attr: str
    selector: Node | None = None
    sub: str | None = None


def parse_path(text: str) -> PatchPath:
    """Parse a PATCH `path`; a URN prefix (extension) is kept as part of `attr`."""
    text = text.strip()
    if not text:
        raise invalid_path("the path is empty")
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_path(f"the path is longer than {MAX_FILTER_LENGTH} characters")
    bracket = text.find("[")
    if bracket < 0:
        return _dotted(text)
    close = text.rfind("]")
    if close < bracket:
        raise invalid_path(f"unbalanced brackets in path {text!r}")
    attr = text[:bracket].strip().lower()
    if not _ATTRIBUTE.fullmatch(attr):
        raise invalid_path(f"{text[:bracket]!r} is not an attribute name")
    try:
        parser = _Parser(tokenize(text[bracket + 1:close]))
        selector = parser.or_expr()
        if parser.peek() is not None:
            raise invalid_filter(f"unexpected {parser.peek()[1]!r} after the filter")  # type: ignore[index]
    except ScimError as error:
        raise invalid_path(f"bad filter in path {text!r}: {error.detail}") from None
    rest = text[close + 1:]
    if rest and not rest.startswith("."):
        raise invalid_path(f"unexpected {rest!r} after the filter in path {text!r}")
    return PatchPath(attr, selector, rest[1:].lower() or None)


def _dotted(text: str) -> PatchPath:
    # The last ':' separates an extension URN from the attribute; dots come after it.
    head, _, tail = text.lower().rpartition(":")
    parts = tail.split(".")
    if len(parts) > 2 or not all(parts):
        raise invalid_path(f"path {text!r} is not attr or attr.subAttr")
    attr = f"{head}:{parts[0]}" if head else parts[0]
    return PatchPath(attr, None, parts[1] if len(parts) == 2 else None)
