"""The one reading of yes/no words as booleans: operator settings and IdP record flags alike."""

from __future__ import annotations

from typing import Any

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "active", "enabled"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", "disabled", "inactive", "suspended", ""})


def flag(value: Any, default: bool = False) -> bool:
    """`value` as a bool: a known yes or no word (any case, spaces around), a JSON bool or
    number; `default` for None and for words that are neither (a setting's typo stays off,
    an IdP's unknown status word keeps the account as the caller decides)."""
    if value is None:
        return default
    if isinstance(value, bool | int | float):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return default
