"""E-mail address parsing for every form SMTP2GO clients send (reference §4.2)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import formataddr

from postroom.mail.text import describe_char, find_control

_FORM = re.compile(
    r'\s*(?:(?P<name>"(?:[^"\\\r\n]|\\.)*"|[^<>"\r\n]*?)\s*<(?P<bracketed>[^<>\s]*)>|(?P<bare>[^<>\s"]+))\s*'
)
# RFC 5321 mailbox, permissive on the characters of the local part, strict on structure.
_MAILBOX = re.compile(r"^(?P<local>[^@\s<>(),;:\\\"\[\]]{1,64})@(?P<domain>[^@\s<>(),;:\\\"\[\]_]{1,253})$")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")  # RFC 5322 atext and spaces: no quoting
_LABEL = re.compile(r"^(?!-)[^.\s]{1,63}(?<!-)$")


class AddressError(ValueError):
    """An address that cannot be used; `reason` says why in words a caller can show."""

    def __init__(self, text: str, reason: str = "") -> None:
        super().__init__(text)
        self.reason = reason


@dataclass(frozen=True)
class Address:
    """A mailbox with an optional display name."""

    addr: str
    name: str = ""

    def header(self) -> str:
        """The form for a header: RFC 2047-encoded name when it is not ASCII."""
        if not self.name:
            return self.addr
        if _PLAIN_NAME.fullmatch(self.name):
            return f"{self.name} <{self.addr}>"
        return formataddr((self.name, self.addr), charset="utf-8")

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2]


def unquote_name(raw: str) -> str:
    """A display name with its quotes removed and RFC 2047 words decoded; no other checks."""
    name = raw.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    if "=?" in name:
        with contextlib.suppress(ValueError, LookupError, UnicodeDecodeError, HeaderParseError):
            name = str(make_header(decode_header(name)))
    return name.strip()


def normalize_mailbox(addr: str) -> str:
    """The mailbox as it may go into a header: a non-ASCII domain IDNA-encoded; raise AddressError.

    Control characters are refused anywhere, and so is a non-ASCII local part: that needs SMTPUTF8
    (RFC 6531), which the API path does not offer.
    """
    bad = find_control(addr)
    if bad is not None:
        raise AddressError(addr, f"it contains the control character {describe_char(bad)}")
    match = _MAILBOX.match(addr)
    if not match:
        raise AddressError(addr)
    local, domain = match["local"], match["domain"]
    if not local.isascii():
        raise AddressError(addr, "a non-ASCII local part (before the @) is not supported")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise AddressError(addr)
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise AddressError(addr, "its domain cannot be IDNA-encoded") from None
    if not all(_LABEL.match(label) for label in domain.split(".")):
        raise AddressError(addr)
    return f"{local}@{domain}"


def is_valid_mailbox(addr: str) -> bool:
    """True for an ASCII mailbox that normalize_mailbox leaves as it is."""
    try:
        return normalize_mailbox(addr) == addr
    except AddressError:
        return False


def decode_name(raw: str) -> str:
    """A display name with quotes removed and RFC 2047 words decoded; raise AddressError for controls."""
    name = unquote_name(raw)
    bad = find_control(name)
    if bad is not None:
        raise AddressError(raw, f"its display name contains the control character {describe_char(bad)}")
    return name


def parse_address(text: str) -> Address:
    """Parse `a@b`, `<a@b>`, `Name <a@b>`, `"Name" <a@b>` or an RFC 2047 name; raise AddressError.

    AddressError is a ValueError; its `reason` is set when there is more to say than "malformed".
    """
    bad = find_control(text)
    if bad is not None:
        raise AddressError(text, f"it contains the control character {describe_char(bad)}")
    match = _FORM.fullmatch(text)
    if not match:
        raise AddressError(text)
    addr = match["bracketed"] if match["bracketed"] is not None else match["bare"]
    if not addr:
        raise AddressError(text)
    return Address(addr=normalize_mailbox(addr), name=decode_name(match["name"] or ""))
