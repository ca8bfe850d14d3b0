"""Checks of a send request's fields: addresses, text without line breaks, custom headers, files.

Each raises InvalidInput naming the field, with SMTP2GO's wording where its clients read it.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.errors import ObsoleteHeaderDefect
from email.headerregistry import AddressHeader, DateHeader, HeaderRegistry, UnstructuredHeader
from typing import Any

from postroom.errors import InvalidInput
from postroom.features.email.schemas import FileItem
from postroom.mail.addresses import Address, AddressError, normalize_mailbox, parse_address
from postroom.mail.compose import Part, parse_mimetype
from postroom.mail.parse import MSG_ID
from postroom.mail.text import describe_char, find_control

FORBIDDEN_HEADERS = {"content-type", "content-transfer-encoding", "mime-version", "bcc", "resent-bcc"}
_HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")  # RFC 5322 §3.6.8 ftext
_CID = re.compile(r"[!-;=?-~]+")  # printable ASCII without "<", ">" or white space (RFC 2392 via §3.6.4)
_WHITESPACE = str.maketrans("", "", " \t\r\n\f\v")
_HEADERS = HeaderRegistry()  # the header classes of email.policy.default


def address(field: str, value: str) -> Address:
    try:
        return parse_address(value)
    except AddressError as exc:
        reason = f" ({exc.reason})" if exc.reason else ""
        raise InvalidInput(
            field,
            f"The field '{field}' was expecting a valid RFC-822 formatted email field but found "
            f"'{value}'{reason}, Please correct your JSON payload and try again.",
        ) from None


def addresses(field: str, values: list[str]) -> list[Address]:
    return [address(field, v) for v in values]


def no_controls(field: str, value: str, allow_tab: bool = False) -> None:
    """Refuse line breaks of every kind and other control characters (see mail/text.py)."""
    bad = find_control(value, allow_tab)
    if bad is not None:
        raise InvalidInput(
            field,
            f"The field '{field}' must not contain line breaks or control characters ({describe_char(bad)})",
        )


def custom_headers(items: list[Any]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, value = item.header.strip(), item.value
        if not _HEADER_NAME.match(name):
            raise InvalidInput("custom_headers", f"'{name}' is not a valid header name")
        if name.lower() in FORBIDDEN_HEADERS:
            raise InvalidInput("custom_headers", f"The header '{name}' is not allowed in custom_headers")
        no_controls("custom_headers", value, allow_tab=True)
        out.append((name, _structured(name, value)))
    return out


def _structured(name: str, value: str) -> str:
    """A custom header that replaces a generated one (addresses, Message-ID, Date, MIME headers) must
    parse as its kind, or the stored message could not be read back; address lists come back with
    IDNA-encoded domains and RFC 2047-encoded names."""
    if name.lower() in ("message-id", "resent-message-id"):
        if not MSG_ID.fullmatch(value.strip()):
            raise InvalidInput("custom_headers", f"The header '{name}' is not a msg-id like <id@domain>")
        return value.strip()
    kind = _HEADERS.registry.get(name.lower())
    if kind is None or issubclass(kind, UnstructuredHeader):
        return value
    try:
        parsed: Any = _HEADERS(name, value)
    except Exception:
        raise InvalidInput("custom_headers", f"The header '{name}' cannot be parsed: '{value}'") from None
    defects = [d for d in parsed.defects if not isinstance(d, ObsoleteHeaderDefect)]
    if defects or (isinstance(parsed, DateHeader) and parsed.datetime is None):
        raise InvalidInput("custom_headers", f"The header '{name}' is malformed: '{value}'")
    if isinstance(parsed, AddressHeader):
        return _address_list(name, value, parsed)
    return value


def _address_list(name: str, value: str, parsed: AddressHeader) -> str:
    addresses = []
    for found in parsed.addresses:
        try:
            addresses.append(Address(normalize_mailbox(found.addr_spec), found.display_name))
        except AddressError as exc:
            reason = f" ({exc.reason})" if exc.reason else ""
            raise InvalidInput(
                "custom_headers", f"The header '{name}' has an invalid address '{found.addr_spec}'{reason}"
            ) from None
    if value.isascii():
        return value  # as given, groups included
    return ", ".join(a.header() for a in addresses)


def base64_field(field: str, blob: str, item: str = "") -> bytes:
    """Strict base64 after removing ASCII white space (`base64`, encodebytes and chunk_split wrap lines)."""
    try:
        return base64.b64decode(blob.translate(_WHITESPACE), validate=True)
    except (binascii.Error, ValueError):
        named = f" item '{item}'" if item else ""
        raise InvalidInput(field, f"The field '{field}'{named} is not valid base64") from None


def _mimetype(field: str, item: FileItem) -> tuple[str, tuple[tuple[str, str], ...]]:
    if not isinstance(item.mimetype, str) or not item.mimetype.strip():
        return "", ()
    no_controls(field, item.mimetype)
    parsed = parse_mimetype(item.mimetype)
    if parsed is None:
        raise InvalidInput(
            field,
            f"The field '{field}' item '{item.filename}': mimetype '{item.mimetype}' is not a type/subtype"
            " media type (RFC 2045 §5.1)",
        )
    return parsed


def _cid(field: str, item: FileItem) -> str:
    cid = item.cid.strip() or item.filename
    if cid.startswith("<") and cid.endswith(">"):
        cid = cid[1:-1]
    if not _CID.fullmatch(cid):
        source = "cid" if item.cid.strip() else "filename (used as the Content-ID when no cid is given)"
        raise InvalidInput(
            field,
            f"The field '{field}' item '{item.filename}': the {source} must be printable ASCII without"
            " spaces, '<' or '>'",
        )
    return cid


def files(field: str, items: list[FileItem], inline: bool) -> list[Part]:
    parts = []
    for item in items:
        no_controls(field, item.filename)
        if not item.fileblob:
            reason = "fetching attachments by url is not supported" if item.url else "fileblob is required"
            raise InvalidInput(field, f"The field '{field}' item '{item.filename}': {reason}")
        content = base64_field(field, item.fileblob, item.filename)
        mimetype, params = _mimetype(field, item)
        cid = _cid(field, item) if inline else ""
        parts.append(Part(filename=item.filename, content=content, mimetype=mimetype, cid=cid, params=params))
    return parts


def dedupe(values: list[str]) -> list[str]:
    """The addresses without repeats (any letter case), first spelling kept."""
    seen: set[str] = set()
    out = []
    for addr in values:
        if addr.lower() not in seen:
            seen.add(addr.lower())
            out.append(addr)
    return out
