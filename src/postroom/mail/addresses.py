"""E-mail address parsing for every form SMTP2GO clients send (reference §4.2)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import formataddr

_FORM = re.compile(
    r'\s*(?:(?P<name>"(?:[^"\\\r\n]|\\.)*"|[^<>"\r\n]*?)\s*<(?P<bracketed>[^<>\s]*)>|(?P<bare>[^<>\s"]+))\s*'
)
# RFC 5321 mailbox, permissive on the characters of the local part, strict on structure.
_MAILBOX = re.compile(r"^(?P<local>[^@\s<>(),;:\\\"\[\]]{1,64})@(?P<domain>[^@\s<>(),;:\\\"\[\]_]{1,253})$")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")  # RFC 5322 atext and spaces: no quoting
_LABEL = re.compile(r"^(?!-)[^.\s]{1,63}(?<!-)$")


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


def _decode_name(raw: str) -> str:
    name = raw.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    if "=?" in name:
        with contextlib.suppress(ValueError, LookupError, UnicodeDecodeError):
            name = str(make_header(decode_header(name)))
    return name.strip()


def is_valid_mailbox(addr: str) -> bool:
    match = _MAILBOX.match(addr)
    if not match:
        return False
    local, domain = match["local"], match["domain"]
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    return all(_LABEL.match(label) for label in domain.split("."))


def parse_address(text: str) -> Address:
    """Parse `a@b`, `<a@b>`, `Name <a@b>`, `"Name" <a@b>` or an RFC 2047 name; raise ValueError."""
    match = _FORM.fullmatch(text)
    if not match:
        raise ValueError(text)
    addr = match["bracketed"] if match["bracketed"] is not None else match["bare"]
    if not addr or not is_valid_mailbox(addr):
        raise ValueError(text)
    return Address(addr=addr, name=_decode_name(match["name"] or ""))
