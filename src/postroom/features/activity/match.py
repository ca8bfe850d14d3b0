"""Case-insensitive substring matching in SQL that also folds non-ASCII letters, on every backend.

SQLite's lower() and LIKE fold only ASCII letters, and PostgreSQL's lower() follows the database's
ctype (none at all under the C locale). So for each non-ASCII letter of the lower-cased needle, the
column gets a replace() of every upper- or title-case form of that letter before lower(): only the
letters of the needle matter to LIKE, so a needle of n distinct non-ASCII letters costs n replace()
calls, and a plain-ASCII needle costs nothing extra.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func


def _upper_forms() -> dict[str, tuple[str, ...]]:
    """lower-case letter → the other single characters whose lower() is that letter.

    Cased letters end below U+1F000 (the last are Adlam's, U+1E900-U+1E95F).
    """
    forms: dict[str, list[str]] = {}
    for code in range(0x80, 0x1F000):
        char = chr(code)
        lowered = char.lower()
        if lowered != char and len(lowered) == 1:
            forms.setdefault(lowered, []).append(char)
    return {k: tuple(v) for k, v in forms.items()}


_FORMS: dict[str, tuple[str, ...]] | None = None


def _forms_of(letter: str) -> tuple[str, ...]:
    global _FORMS
    if _FORMS is None:
        _FORMS = _upper_forms()
    return _FORMS.get(letter, ())


def contains(column: Any, needle: str) -> ColumnElement[bool]:
    """`column` contains `needle`, ignoring case (Unicode simple case folding of the needle's letters)."""
    lowered = needle.lower()
    folded: Any = column
    for letter in dict.fromkeys(c for c in lowered if not c.isascii()):
        for form in _forms_of(letter):
            folded = func.replace(folded, form, letter)
    escaped = lowered.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(folded).like(f"%{escaped}%", escape="\\")
