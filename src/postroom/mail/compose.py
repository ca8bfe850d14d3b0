"""Build an RFC 5322 message with the standard `email` package from the parts of an API send.

Trees (reference §4.1, decisions.md "Sending"); levels with a single child are left out:
- version 2: mixed → related(alternative(text, html), inlines…), attachments…
- version 1: mixed → alternative(text, related(html, inlines…)), attachments…

The compat32 policy with CRLF line endings is used because it is several times faster than
`policy.SMTP` with EmailMessage and produces the same wire format for what we build.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import encoders
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime
from io import BytesIO

from postroom.mail.addresses import Address

_PRINTABLE = re.compile(r"[ -~\t]*")
_SEVEN_BIT_TEXT = re.compile(r"[\t\r\n -~]*")  # printable ASCII and line breaks: nothing to encode
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the generator writes as CRLF (not str.splitlines)
# RFC 2045 §5.1: type "/" subtype *(";" parameter); a token is printable ASCII without tspecials.
_TOKEN = r"[!#$%&'*+\-.0-9A-Za-z^_`{|}~]+"
_QUOTED = r'"(?:[ !#-\[\]-~]|\\[ -~])*"'
_PARAM = rf"[ \t]*;[ \t]*({_TOKEN})[ \t]*=[ \t]*({_TOKEN}|{_QUOTED})"
_PARAMS = re.compile(_PARAM)
_MIMETYPE = re.compile(rf"[ \t]*({_TOKEN})/({_TOKEN})((?:{_PARAM})*)[ \t]*;?[ \t]*")
# A multipart or message body may not be base64-encoded (RFC 2045 §6.4, RFC 2046 §5.2.1), so an
# attachment declared as one is sent as opaque bytes.
_OPAQUE_TYPES = ("multipart/", "message/")


class WirePolicy(Compat32):
    """compat32 with CRLF, writing short printable-ASCII headers directly.

    compat32 sends every header value through `email.header.Header` to fold it; for a value that
    fits on one line and needs no encoding that leaves it unchanged, and it is most of the cost of
    composing a message. Everything else still goes through compat32's folding.
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        limit = self.max_line_length or 0
        if isinstance(value, str) and len(name) + 2 + len(value) <= limit and _PRINTABLE.fullmatch(value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


WIRE = WirePolicy(linesep="\r\n")
_date_cache: tuple[datetime | None, str] = (None, "")


def date_header(when: datetime) -> str:
    """RFC 5322 date, formatted once per second (many messages share a second under load)."""
    global _date_cache
    second = when.replace(microsecond=0)
    if _date_cache[0] != second:
        _date_cache = (second, format_datetime(second))
    return _date_cache[1]


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
MAX_LINE = 998  # RFC 5322 §2.1.1


def parse_mimetype(value: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """(`type/subtype` in lower case, its parameters) of an RFC 2045 §5.1 media type, or None."""
    match = _MIMETYPE.fullmatch(value)
    if match is None:
        return None
    params = tuple(
        (m[1].lower(), re.sub(r"\\(.)", r"\1", m[2][1:-1]) if m[2].startswith('"') else m[2])
        for m in _PARAMS.finditer(match[3])
    )
    return f"{match[1]}/{match[2]}".lower(), params


@dataclass(frozen=True)
class Part:
    """An attachment or inline: decoded bytes, a file name, a MIME type, and a Content-ID for inlines.

    `mimetype` is already validated (parse_mimetype); empty means "guess from the file name".
    """

    filename: str
    content: bytes
    mimetype: str = ""
    cid: str = ""
    params: tuple[tuple[str, str], ...] = ()

    @property
    def content_type(self) -> str:
        ctype = self.mimetype.lower() if "/" in self.mimetype else ""
        if not ctype:
            ctype = mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        return "application/octet-stream" if ctype.startswith(_OPAQUE_TYPES) else ctype


@dataclass
class Composition:
    """Everything the composer needs; addresses are already parsed and validated."""

    sender: Address
    to: list[Address]
    cc: list[Address]
    subject: str
    message_id: str
    date: datetime
    text: str = ""
    html: str = ""
    reply_to: list[Address] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Part] = field(default_factory=list)
    inlines: list[Part] = field(default_factory=list)
    version: int = 2


def header_value(value: str) -> str | Header:
    """ASCII stays as is; anything else is RFC 2047-encoded."""
    if value.isascii():
        return value
    return Header(value, "utf-8")


def text_part(body: str, subtype: str) -> Message:
    """A text part: 7bit when printable ASCII with short lines, quoted-printable UTF-8 otherwise.

    Lines are counted at CR LF, CR and LF only (what the generator writes as line ends), not where
    `str.splitlines()` would also break; any other control character is quoted-printable encoded.
    """
    part = MIMENonMultipart("text", subtype, policy=WIRE)
    if _SEVEN_BIT_TEXT.fullmatch(body) and all(len(line) <= MAX_LINE for line in _LINE_BREAK.split(body)):
        part.set_payload(body, "us-ascii")
    else:
        part.set_payload(body, _UTF8_QP)
    del part["MIME-Version"]  # only the top level carries it (RFC 2045 §4)
    return part


def file_part(item: Part, disposition: str) -> Message:
    maintype, _, subtype = item.content_type.partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream", policy=WIRE)
    if item.content_type == item.mimetype:  # parameters belong to the type that was given
        for name, value in item.params:
            part.set_param(name, value)
    part.set_payload(item.content)
    encoders.encode_base64(part)
    filename: str | tuple[str, str, str] = (
        item.filename if item.filename.isascii() else ("utf-8", "", item.filename)
    )
    part.set_param("name", filename)  # type: ignore[arg-type]  # RFC 2231 triple
    part.add_header("Content-Disposition", disposition, filename=filename)
    if item.cid:
        part.add_header("Content-ID", f"<{item.cid}>")
    del part["MIME-Version"]
    return part


def _group(subtype: str, children: list[Message]) -> Message:
    if len(children) == 1:
        return children[0]
    group = MIMEMultipart(subtype, policy=WIRE)
    del group["MIME-Version"]
    for child in children:
        group.attach(child)
    return group


def body_tree(c: Composition) -> Message:
    text = [text_part(c.text, "plain")] if c.text else []
    html = [text_part(c.html, "html")] if c.html else []
    inlines = [file_part(p, "inline") for p in c.inlines]
    if c.version == 1:
        related_html = [_group("related", html + inlines)] if html or inlines else []
        content = _group("alternative", text + related_html) if text or related_html else None
    else:
        alternative = [_group("alternative", text + html)] if text or html else []
        content = _group("related", alternative + inlines) if alternative or inlines else None
    children = ([content] if content is not None else []) + [
        file_part(p, "attachment") for p in c.attachments
    ]
    if not children:
        return text_part("", "plain")
    return _group("mixed", children)


def _move_to_end(msg: Message, name: str, default: str | None) -> None:
    """Put the MIME headers after the addressing ones, so a reader sees From/To/Subject first."""
    value = msg.get(name, default)
    if value is None:
        return
    del msg[name]
    msg[name] = value


def compose(c: Composition) -> bytes:
    """The message as wire bytes (CRLF). A custom header with the name of one we generate replaces ours."""
    root = body_tree(c)
    custom = {name.lower() for name, _ in c.headers}
    generated = [
        ("From", c.sender.header()),
        ("To", ", ".join(a.header() for a in c.to)),
        ("Cc", ", ".join(a.header() for a in c.cc)),
        ("Reply-To", ", ".join(a.header() for a in c.reply_to)),
    ]
    for name, value in generated:
        if value and name.lower() not in custom:
            root[name] = value
    if "subject" not in custom:
        root["Subject"] = header_value(c.subject)  # type: ignore[assignment]  # Header is accepted
    if "date" not in custom:
        root["Date"] = date_header(c.date)
    if "message-id" not in custom:
        root["Message-ID"] = c.message_id
    for name, value in c.headers:
        root[name] = header_value(value)  # type: ignore[assignment]
    _move_to_end(root, "MIME-Version", "1.0")
    _move_to_end(root, "Content-Type", None)
    _move_to_end(root, "Content-Transfer-Encoding", None)
    buffer = BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=WIRE).flatten(root)
    return buffer.getvalue()
