"""Per-character case folding shared by Python and SQL substring search (see features/activity/match.py).

FOLD maps every character whose lower case is one other character to it: ASCII letters, and
non-ASCII letters whose lower case is non-ASCII too (so the Kelvin sign stays itself, as SQL's lower()
leaves it). Applied per character, without Python's context rules (final sigma), so a needle and a
column fold alike on every backend. SQLite calls fold() as the SQL function `postroom_fold`.
"""

from __future__ import annotations

from functools import lru_cache

SQL_FUNCTION = "postroom_fold"


@lru_cache(maxsize=1)
def fold_table() -> dict[int, int]:
    """Cased letters end below U+1F000 (the last are Adlam's, U+1E900-U+1E95F)."""
    table: dict[int, int] = {}
    for code in range(0, 0x1F000):
        char = chr(code)
        lowered = char.lower()
        if lowered != char and len(lowered) == 1 and char.isascii() == lowered.isascii():
            table[code] = ord(lowered)
    return table


@lru_cache(maxsize=1)
def upper_forms() -> dict[str, str]:
    """lower-case non-ASCII letter → the characters that fold to it."""
    forms: dict[str, str] = {}
    for code, lowered in fold_table().items():
        if code >= 0x80:
            forms[chr(lowered)] = forms.get(chr(lowered), "") + chr(code)
    return forms


def fold(value: str | None) -> str | None:
    """The folded text (None stays None, as SQL NULL)."""
    return value.translate(fold_table()) if isinstance(value, str) else value
