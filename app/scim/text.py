"""Text a database can hold: PostgreSQL refuses NUL, and UTF-8 has no unpaired surrogates."""

from __future__ import annotations


def storable(text: str) -> bool:
    """Whether `text` can be stored and compared on SQLite and PostgreSQL alike.

    JSON lets a client send both (`\\u0000`, a lone `\\ud800`); stored or compared
    unchecked they become a database error, and so a 500, instead of a clear 400.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
