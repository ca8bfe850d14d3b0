"""Property tests of the MIME reader (mail/parse.py) and the composer (mail/compose.py), with Hypothesis.

Generated messages (tests/mime_strategies.py) read back as what was generated: subject, From and
To, the first text and HTML bodies, every file's name and bytes; arbitrary bytes never make a reader
raise anything but the documented InvalidMessage. Examples found to break a promise are pinned with
@example.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mime_strategies import CRLF, Expected, messages
from postroom.mail.addresses import Address
from postroom.mail.compose import Composition, Part, compose
from postroom.mail.parse import (
    InvalidMessage,
    attachment_meta,
    describe,
    header_items,
    part_content,
    read_submitted,
)

EXAMPLES = int(os.environ.get("POSTROOM_HYPOTHESIS_EXAMPLES", "150"))  # more for a longer hunt
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a loaded 2-core machine: time is not the property
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check_reading(raw: bytes, expected: Expected, extra: list[tuple[str, str]]) -> None:
    for strict in (True, False):
        head = read_submitted(raw, strict=strict)
        assert head.subject == expected.subject
        assert head.sender is not None and (head.sender.name, head.sender.addr) == expected.sender
        assert [(a.name, a.addr) for a in head.to] == expected.to
    described = describe(raw)
    assert described["text"] == (expected.text or "")
    assert described["html"] == (expected.html or "")
    files = described["attachments"]
    assert [f["filename"] for f in files] == [f.filename for f in expected.files]
    for found, wanted in zip(files, expected.files, strict=True):
        assert found["size"] == len(wanted.content)
        content = part_content(raw, found["index"])
        assert content is not None and content[2] == wanted.content
    meta = attachment_meta(raw)
    assert [(m["filename"], m["size"]) for m in meta] == [
        (f.filename, len(f.content)) for f in expected.files
    ]
    items = header_items(raw)
    for name, value in extra:
        assert (name, value) in items


# Found by Hypothesis: /email/mime (strict reading) read a display name split over two encoded words
# as "0 0"; RFC 2047 §6.2 drops the whitespace between adjacent encoded words.
SPLIT_NAME = (
    b"From: a@b.example\r\nTo: =?utf-8?q?0?=\r\n =?UTF-8?B?MA==?= <x@y.example>\r\nSubject: s\r\n"
    b"Content-Type: text/plain\r\n\r\nbody",
    Expected(subject="s", sender=("", "a@b.example"), to=[("00", "x@y.example")], text="body"),
    [],
)


@BOUNDED
@given(messages())
@example(SPLIT_NAME)
def test_generated_messages_read_back_as_generated(
    case: tuple[bytes, Expected, list[tuple[str, str]]],
) -> None:
    raw, expected, extra = case
    _check_reading(raw, expected, extra)


_JUNK_HEADERS = st.lists(
    st.one_of(
        st.binary(max_size=200),
        st.sampled_from(
            [
                b"Subject: =?utf-8?q?broken",
                b"Subject: =?x-unknown?b?AAAA?=",
                b'From: "unterminated <a@b>',
                b"To: a@b, , ,<>",
                b"Content-Type: multipart/mixed; boundary=",
                b"Content-Type: multipart/mixed; boundary*0*=utf-8''%FF",
                b"Content-Transfer-Encoding: base64",
                b"Content-Disposition: attachment; filename*=x-bad''%ZZ",
                b"Date: 99 Foo 2026",
                b"Message-ID: <",
                b" continuation without a header",
                b"\xff\xfe: \x00\x01",
            ]
        ),
    ),
    max_size=8,
)


@BOUNDED
@given(_JUNK_HEADERS, st.binary(max_size=500))
def test_arbitrary_bytes_never_raise_more_than_invalid_message(lines: list[bytes], body: bytes) -> None:
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
    for strict in (True, False):
        try:
            read_submitted(raw, strict=strict)
        except InvalidMessage:
            assert strict  # the lenient reading (SMTP) takes any header section
    described = describe(raw)
    for part in described["parts"]:
        part_content(raw, part["index"])
    attachment_meta(raw)
    header_items(raw)


_NAMES = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"), blacklist_characters="\u0085"),
    max_size=40,
).map(lambda s: " ".join(s.split()))
_BODY = st.text(
    st.characters(
        blacklist_categories=("Cs", "Co", "Cn"), blacklist_characters="\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    ),
    max_size=3000,
)


@BOUNDED
@given(
    subject=st.text(
        st.characters(
            blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"), blacklist_characters="\u0085"
        ),
        max_size=300,
    ).map(lambda s: " ".join(s.split())),
    name=_NAMES,
    text=_BODY,
    html=_BODY,
    files=st.lists(st.tuples(_NAMES.filter(bool), st.binary(max_size=2000)), max_size=3),
    version=st.sampled_from([1, 2]),
)
@example(subject="", name="", text="", html="", files=[], version=2)
def test_composed_messages_read_back_as_composed(
    subject: str, name: str, text: str, html: str, files: list[tuple[str, bytes]], version: int
) -> None:
    """What /email/send builds is what the capture API and activity read: subject, names, bodies, files."""
    sender = Address("sender@example.com", name)
    raw = compose(
        Composition(
            sender=sender,
            to=[Address("to@example.net", name)],
            cc=[],
            subject=subject,
            message_id="<c.1@example.com>",
            date=datetime(2026, 12, 4, tzinfo=UTC),
            text=text,
            html=html,
            attachments=[Part(filename, content, "application/octet-stream") for filename, content in files],
            version=version,
        )
    )
    head = read_submitted(raw, strict=True)
    assert head.subject == subject
    assert head.sender is not None and (head.sender.name, head.sender.addr) == (name, sender.addr)
    described = describe(raw)
    assert described["text"].replace(CRLF, "\n") == text
    assert described["html"].replace(CRLF, "\n") == html
    found = [(f["filename"], part_content(raw, f["index"])) for f in described["attachments"]]
    assert [(n, c[2] if c else None) for n, c in found] == files
