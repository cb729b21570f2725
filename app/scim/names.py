"""The comparison key of a userName: NFC, case-folded and trimmed, so look-alike spellings collide."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Canonical caseless form: composed (NFC) before and after Unicode case folding.

    Case folding, unlike lower(), also matches `ß` with `ss` and the Kelvin sign with `k`;
    NFC makes `e` + combining acute and the precomposed `é` the same text.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def user_name_key(user_name: str) -> str:
    """The unique key of a userName: ` Bob `, `bob` and `BOB` are one name (RFC 7643 §4.1.1
    makes userName unique and case-insensitive; the spaces an IdP form lets through are not a
    different person)."""
    return fold(user_name.strip())
