"""Characters that must never reach a header line or a database text column.

`str.splitlines()`, which the standard library's header folding uses, breaks lines at every C0
separator, U+0085, U+2028 and U+2029, not only at CR and LF; PostgreSQL refuses NUL in text. A value
bound for a header therefore may hold no control character at all (a tab, which header folding
treats as white space, only where a caller allows it).
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def find_control(value: str, allow_tab: bool = False) -> str | None:
    """The first control character (C0, DEL, C1, U+2028, U+2029) in value, or None."""
    match = (_CONTROL_BUT_TAB if allow_tab else _CONTROL).search(value)
    return match[0] if match else None


def describe_char(char: str) -> str:
    """`U+000B` style name of a character, for error messages."""
    return f"U+{ord(char):04X}"


def without_controls(value: str) -> str:
    """Each control character replaced by a space: for metadata columns of messages taken as they are."""
    return _CONTROL_BUT_TAB.sub(" ", value) if _CONTROL_BUT_TAB.search(value) else value


def from_surrogates(value: str) -> str:
    """Undo the parser's `surrogateescape` of 8-bit header bytes: read them as UTF-8, replacing errors."""
    if not _SURROGATE.search(value):
        return value
    return value.encode("ascii", "surrogateescape").decode("utf-8", "replace")


def has_8bit(value: str) -> bool:
    """True when a header value parsed from bytes held bytes above 127 (they arrive as surrogates)."""
    return bool(_SURROGATE.search(value)) or not value.isascii()
