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
NUL_ESCAPE = b"\\u0000"  # how JSON spells U+0000
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
    if NUL_ESCAPE in raw:  # a raw NUL cannot be in JSON at all; this is the one spelling of it
        field = nul_field(data)
        if field is not None:
            raise InvalidInput(
                field, f"The field '{field}' contains a NUL character (U+0000), which no field accepts"
            )
    return data


def nul_field(body: dict[str, Any]) -> str | None:
    """The first top-level field whose value (or one of its keys, at any depth) holds U+0000.

    No SMTP2GO field takes one (RFC 5322 forbids NUL in a message), and PostgreSQL's text and JSON
    refuse it, so it is a validation error before anything reads the body (the access checks too).
    The field is named as the other checks name it: `to`, not `to[0]`.
    """
    for key, value in body.items():
        if "\x00" in key or _holds_nul(value):
            return key
    return None


def _holds_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise InvalidInput("body", f"The request body is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return any("\x00" in k or _holds_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v, depth + 1) for v in value)
    return False


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


def convert(data: dict[str, Any], kind: type[T]) -> T:
    """Validate a decoded body against a Struct type; raise InvalidInput for the first bad field
    (a NUL character anywhere in a field's strings included)."""
    cleaned = drop_absent(data)
    nul = nul_field(cleaned)  # bodies were checked when decoded; query parameters are checked here
    if nul is not None:
        raise InvalidInput(
            nul, f"The field '{nul}' contains a NUL character (U+0000), which no field accepts"
        )
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
