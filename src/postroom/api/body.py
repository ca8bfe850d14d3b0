"""Request bodies: JSON whatever the Content-Type, nulls and empties dropped, msgspec validation.

Validation failures become InvalidInput naming the first failing field, as SMTP2GO's
`field_validation_errors` does.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, TypeVar

import msgspec

from postroom.errors import InvalidInput

T = TypeVar("T")
_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
MAX_DEPTH = 32  # nesting of arrays and objects in a body; no endpoint needs more than a few levels
_BOOL_WORDS = {"yes": True, "on": True, "no": False, "off": False, "true": True, "false": False}


def decode_json_object(raw: bytes) -> dict[str, Any]:
    """Parse the body; an empty body is `{}`; anything but a JSON object is a validation error."""
    if not raw.strip():
        return {}
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidInput("body", f"The request body is not valid JSON ({exc})") from None
    except RecursionError:
        raise InvalidInput("body", f"The request body is nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "The request body must be a JSON object")
    return data


def _is_absent(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def drop_absent(value: Any, depth: int = 0) -> Any:
    """Remove null, "" and [] members of objects (recursively): they mean "not given".

    Raises InvalidInput for nesting deeper than MAX_DEPTH, before Python's recursion limit is near.
    """
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise InvalidInput("body", f"The request body is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {k: drop_absent(v, depth + 1) for k, v in value.items() if not _is_absent(v)}
    if isinstance(value, list):
        return [drop_absent(v, depth + 1) for v in value]
    return value


@lru_cache(maxsize=256)
def _bool_fields(kind: type) -> frozenset[str]:
    try:
        return frozenset(f.encode_name for f in msgspec.structs.fields(kind) if f.type is bool)
    except TypeError:
        return frozenset()


def _field_of(message: str) -> str:
    match = _AT.search(message)
    path = match["path"] if match else ""
    missing = _MISSING.search(message)
    if missing:
        return f"{path}.{missing['field']}" if path else missing["field"]
    return path or "body"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _field_with_nul(data: dict[str, Any]) -> str | None:
    """The first top-level field whose strings (at any depth) hold a NUL character, or None.

    No field has a use for NUL (RFC 5322 text excludes it, and names, ids and searches never hold
    it), and PostgreSQL text cannot store it: refused here once rather than failing in SQL."""
    return next((str(k) for k, v in data.items() if _holds_nul(k) or _holds_nul(v)), None)


def convert(data: dict[str, Any], kind: type[T]) -> T:
    """Validate a decoded body against a Struct type; raise InvalidInput for the first bad field
    (a NUL character anywhere in a field's strings included)."""
    cleaned = drop_absent(data)
    nul = _field_with_nul(cleaned)
    if nul is not None:
        raise InvalidInput(nul, f"The field '{nul}' must not contain NUL characters")
    for name in _bool_fields(kind):  # type: ignore[arg-type]
        value = cleaned.get(name)
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            cleaned[name] = _BOOL_WORDS[value.strip().lower()]
    try:
        return msgspec.convert(cleaned, kind, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = _field_of(text)
        detail = _AT.sub("", text)
        raise InvalidInput(field, f"The field '{field}' is invalid: {detail}") from None
