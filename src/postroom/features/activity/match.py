"""Case-insensitive substring matching in SQL that also folds non-ASCII letters, on every backend.

The needle is matched literally with instr() (SQLite) or strpos() (PostgreSQL), never as a LIKE
pattern: `%`, `_` and `\\` in a search are plain characters, and no length meets SQLite's LIKE
pattern-complexity limit (50,000 bytes). Folding follows storage/fold.py: an ASCII needle compares
with lower(column). A needle with non-ASCII letters compares on SQLite with lower() of the column
with each upper- or title-case form of those letters replace()d (up to MAX_REPLACES; beyond, with
postroom_fold(column), a Python function registered on each connection), and on PostgreSQL with
lower(translate(column, forms, letters)): PostgreSQL's lower() follows the database's ctype (none
at all under the C locale).

Search inputs are bounded (check_search): MAX_SEARCH_LENGTH characters and MAX_ALTERNATIVES
alternatives or terms, so the SQL stays well inside both engines' expression-depth limits; a NUL
character (which PostgreSQL text cannot hold) is refused too. Each breach is an InvalidInput naming
the field.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Boolean, ColumnElement, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement as _Element

from postroom.errors import InvalidInput
from postroom.storage.fold import SQL_FUNCTION, fold_table, upper_forms

MAX_SEARCH_LENGTH = 1000  # characters of one search string
MAX_ALTERNATIVES = 20  # `a | b` alternatives of one field, or terms of /email/search's filter_query
MAX_REPLACES = 40  # replace() calls nested on SQLite before postroom_fold() takes over
T = TypeVar("T")


def check_search(field: str, value: str) -> str:
    """The value, if it is a usable search string; InvalidInput naming `field` otherwise."""
    if len(value) > MAX_SEARCH_LENGTH:
        raise InvalidInput(field, f"The field '{field}' is longer than {MAX_SEARCH_LENGTH} characters")
    if "\x00" in value:
        raise InvalidInput(field, f"The field '{field}' must not contain NUL characters")
    return value


def check_alternatives(field: str, values: list[T]) -> list[T]:
    """The values, if there are at most MAX_ALTERNATIVES of them; InvalidInput otherwise."""
    if len(values) > MAX_ALTERNATIVES:
        raise InvalidInput(field, f"The field '{field}' has more than {MAX_ALTERNATIVES} alternatives")
    return values


class _Contains(_Element[bool]):
    """`haystack` contains the folded `needle`; compiled per dialect below."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, haystack: Any, needle: str) -> None:
        self.haystack = haystack
        self.needle = needle.translate(fold_table())
        self.ascii = self.needle.isascii()


def _forms(needle: str) -> list[tuple[str, str]]:
    """(upper- or title-case form, its letter) for each non-ASCII letter of the folded needle."""
    forms = upper_forms()
    return [(form, c) for c in dict.fromkeys(needle) if c in forms for form in forms[c]]


@compiles(_Contains, "sqlite")
def _sqlite(element: _Contains, compiler: SQLCompiler, **kw: Any) -> str:
    """A few forms: replace() each in C (7x faster than the Python function over 100k rows); more
    than MAX_REPLACES would nest past SQLite's expression depth, so postroom_fold() does them."""
    haystack = compiler.process(element.haystack, **kw)
    needle = compiler.process(literal(element.needle), **kw)
    forms = [] if element.ascii else _forms(element.needle)
    if len(forms) > MAX_REPLACES:
        return f"(instr({SQL_FUNCTION}({haystack}), {needle}) > 0)"
    for form, letter in forms:
        old, new = compiler.process(literal(form), **kw), compiler.process(literal(letter), **kw)
        haystack = f"replace({haystack}, {old}, {new})"
    return f"(instr(lower({haystack}), {needle}) > 0)"


@compiles(_Contains)
def _default(element: _Contains, compiler: SQLCompiler, **kw: Any) -> str:
    haystack = compiler.process(element.haystack, **kw)
    needle = compiler.process(literal(element.needle), **kw)
    if not element.ascii:
        pairs = _forms(element.needle)
        froms = "".join(form for form, _ in pairs)
        tos = "".join(letter for _, letter in pairs)
        if froms:
            froms_sql = compiler.process(literal(froms), **kw)
            tos_sql = compiler.process(literal(tos), **kw)
            haystack = f"translate({haystack}, {froms_sql}, {tos_sql})"
    return f"(strpos(lower({haystack}), {needle}) > 0)"


def contains(column: Any, needle: str) -> ColumnElement[bool]:
    """`column` contains `needle`, ignoring case (per-character folding of storage/fold.py), literally."""
    return _Contains(column, needle)
