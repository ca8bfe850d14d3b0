"""The SMTP ingest shortcuts (connection setup, path and header parsing) give exactly what the general
code they skip computes."""

from __future__ import annotations

import asyncio
import collections
import gc
import random
import types
import weakref
from email.parser import BytesHeaderParser
from email.policy import compat32, default
from email.utils import getaddresses
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from postroom.mail.parse import _HEADER_END, _PLAIN_TEXT, _plain_pairs, raw_headers, split_header
from postroom.settings import load_settings
from postroom.smtp.handler import SubmissionHandler
from postroom.smtp.server import PostroomSMTP, SmtpServer
from postroom.smtp.tls import server_context


def _normal(owner: object, value: Any) -> Any:
    """A value of an instance's state, comparable across two instances."""
    if isinstance(value, types.MethodType):
        return ("method", value.__func__, "own" if value.__self__ is owner else value.__self__)
    if isinstance(value, dict):
        return {k: _normal(owner, v) for k, v in value.items()}
    if isinstance(value, tuple):
        return (type(value), *(_normal(owner, v) for v in value))
    if isinstance(value, (asyncio.StreamReader, asyncio.Future, weakref.ref)):
        return type(value)
    if isinstance(value, collections.deque):
        return (type(value), len(value))
    return value


def _state(obj: object) -> dict[str, Any]:
    return {k: _normal(obj, v) for k, v in vars(obj).items()}


@pytest.mark.parametrize("implicit_tls", [False, True])
@pytest.mark.parametrize("plain_auth", ["true", "false"])
async def test_connection_setup_equals_aiosmtpd_init(
    tmp_path: Path, implicit_tls: bool, plain_auth: str
) -> None:
    settings = load_settings(flags={"data_dir": tmp_path, "smtp_allow_plain_auth": plain_auth}, env={})
    handler = SubmissionHandler(settings, cast(Any, None), cast(Any, None), cast(Any, None))
    server = SmtpServer(settings, handler, cast(Any, None))
    context = server_context(settings)
    make = server._factory(context, implicit_tls)
    first, second, third = make(), make(), make()  # the first runs SMTP.__init__, the others the template

    reference = object.__new__(PostroomSMTP)  # the same class and options through aiosmtpd's own __init__
    SMTP.__init__(reference, handler, **server.options(context, implicit_tls))
    reference.sessions, reference.implicit_tls, reference._refused, reference._pending = (
        first.sessions,
        implicit_tls,
        False,
        [],
    )
    expected = _state(reference)
    for instance in (first, second, third):
        assert _state(instance) == expected
    assert second._smtp_methods["EHLO"].__self__ is second
    assert second._auth_methods.keys() == {"LOGIN", "PLAIN"}
    assert all(not m.is_builtin and m.method.__self__ is handler for m in second._auth_methods.values())
    assert second._handle_hooks["DATA"] == handler.handle_DATA


async def test_setup_cache_lets_a_stopped_servers_handler_go(tmp_path: Path) -> None:
    settings = load_settings(flags={"data_dir": tmp_path}, env={})
    handler = SubmissionHandler(settings, cast(Any, None), cast(Any, None), cast(Any, None))
    make = SmtpServer(settings, handler, cast(Any, None))._factory(server_context(settings), False)
    make(), make()
    gone = weakref.ref(handler)
    del handler, make
    gc.collect()
    assert gone() is None


PATH_CASES = [
    "",
    "<>",
    "<a@b>",
    "<bench@example.com>",
    "<bench@example.com> SIZE=2048",
    "<bench@example.com>  SIZE=2048 BODY=8BITMIME",
    "<bench@example.com>\tSIZE=1",
    "<bench@example.com>SIZE=1",
    "<bench@example.com> (comment) SIZE=1",
    "<bench@example.com>(comment)",
    "<bench@example.com> x (y)",
    "<first.last+tag@sub.example.co.uk>",
    "<a..b@example.com>",
    "<.a@example.com>",
    "<a.@example.com>",
    "<a@example..com>",
    "<a@-example.com>",
    "<a@example.com.>",
    '<"quoted local"@example.com>',
    "<user@[127.0.0.1]>",
    "<@route:user@example.com>",
    "<üser@exämple.com>",
    "<a b@example.com>",
    "< a@example.com>",
    "<a@example.com",
    "a@example.com",
    "a@example.com SIZE=1",
    " <a@example.com>",
    "<!#$%&'*+/=?^_`{|}~-@example.com>",
    "<a@b> \u00a0x",
    "<a@b>\r\n",
    "<a@b> \x0bx",
]


def test_getaddr_equals_aiosmtpd() -> None:
    smtp = object.__new__(PostroomSMTP)
    rng = random.Random(3)
    alphabet = list('ab.@<> \t()"-+=x1ü,:')
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(4000)]
    fuzz += ["<" + f for f in fuzz[:2000]]
    parts = ["a", "b9", "c", "x1", ".", ".", "-", "-", "+", "!", "~", "_", "'", " ", "ü", '"', "(", "["]
    ends = ["", " ", "  SIZE=1", "\tBODY=8BITMIME", "x", " (c)", "(c)", " \x0b", ">", " \u00a0y"]

    def piece() -> str:  # often only letters, digits, dots and hyphens: the fast path's alphabet
        pool = parts[: rng.randint(4, len(parts))]
        return "".join(rng.choice(pool) for _ in range(rng.randint(1, 5)))

    fuzz += [f"<{piece()}@{piece()}>{rng.choice(ends)}" for _ in range(6000)]
    for arg in PATH_CASES + fuzz:
        assert _outcome(smtp._getaddr, arg) == _outcome(lambda a: SMTP._getaddr(smtp, a), arg), arg


def _outcome(fn: Any, arg: str) -> Any:
    try:
        return fn(arg)
    except Exception as exc:  # the email parser fails on some input ("a@"); the same way, then
        return type(exc)


HEADER_LINES = [
    "From: a@example.com",
    "From a@example.com Thu Nov 26 2026",
    "To: <t@example.com>",
    "Subject: hello",
    "Subject:",
    ":nameless",
    " continued",
    "\tcontinued",
    "X-Weird-Name!: v",
    "Bcc: b@example.com",
    "Not a header line",
    "Subject: caf\udcc3\udca9",
    "Subject: \x0bvertical",
    "Cc: a@b,  c@d",
]


def test_raw_headers_equal_the_feed_parser() -> None:
    rng = random.Random(5)
    ends = ["\r\n", "\n", "\r", ""]
    for _ in range(4000):
        lines = [rng.choice(HEADER_LINES) + rng.choice(ends[:3]) for _ in range(rng.randint(0, 7))]
        head = "".join(lines).encode("ascii", "surrogateescape") + rng.choice(ends).encode()
        expected = list(BytesHeaderParser(policy=compat32).parsebytes(head).raw_items())
        assert raw_headers(head) == expected, head


ADDRESS_VALUES = [
    "a@example.com",
    "<a@example.com>",
    "Name <a@example.com>",
    "Two  Words\t<a.b@example.com>",
    "  <a@example.com>  ",
    "a@example.com, b@example.org",
    "A <a@x.y>,B <b@x.y>",
    "=?utf-8?q?J=C3=B6rg?= <j@example.com>",
    '"Quoted, Name" <a@example.com>',
    "J. Doe <a@example.com>",
    "a@example.com (comment)",
    "group: a@example.com;",
    "",
    ",",
    "a@",
    "<a@example.com",
    "a@b..c",
    "Name<a@example.com>",
    "a @example.com",
    "ü <a@example.com>",
]


def test_plain_address_lists_read_as_getaddresses_does() -> None:
    rng = random.Random(7)
    bits = ["a", "b", "x9", ".", "@", "<", ">", " ", ",", "-", "'", '"', "(", ")", "=?", "ü", "\t"]
    cases = [[v] for v in ADDRESS_VALUES]
    cases += [[rng.choice(ADDRESS_VALUES), rng.choice(ADDRESS_VALUES)] for _ in range(300)]
    cases += [["".join(rng.choice(bits) for _ in range(rng.randint(1, 12)))] for _ in range(3000)]
    words = ["", "N ", "A b ", "A\tb ", " x. ", "Ab", "'q' ", "=?x?= ", '"" ']
    parts = ["a", "a.b", "a-b", "a..b", ".a", "x9", "a b", "ü", "(c)", "-"]

    def item() -> str:
        path = f"{rng.choice(parts)}@{rng.choice(parts)}"
        return rng.choice([f"{rng.choice(words)}<{path}>", path, f" {path} "])

    cases += [[",".join(item() for _ in range(rng.randint(1, 3)))] for _ in range(3000)]
    hits = 0
    for values in cases:
        plain = _plain_pairs(values)
        if plain is not None:
            hits += 1
            assert plain == getaddresses(values), values
    assert hits > 300


def test_plain_text_headers_decode_to_themselves() -> None:
    rng = random.Random(9)
    bits = ["a", "B", " ", "  ", "\t", "=", "?", "_", "(", ")", '"', "<", ">", ",", ";", ":", "\\", "~", "-"]
    for _ in range(3000):
        text = "".join(rng.choice(bits) for _ in range(rng.randint(0, 16)))
        if _PLAIN_TEXT.fullmatch(text) and "=?" not in text:
            assert str(default.header_fetch_parse("Subject", text)) == text, text


def test_split_header_cuts_where_the_blank_line_pattern_matches() -> None:
    rng = random.Random(11)
    bits = [b"a", b"b: c", b"\r", b"\n", b"\r\n", b"\n\n", b"\r\n\r\n", b"\n\r\n", b"\r\r", b" "]
    for _ in range(5000):
        raw = b"".join(rng.choice(bits) for _ in range(rng.randint(0, 10)))
        match = _HEADER_END.search(raw)
        if match is None:
            expected = (raw, b"")
        else:
            cut = match.start() + (2 if raw[match.start() : match.start() + 2] == b"\r\n" else 1)
            expected = (raw[:cut], raw[cut:])
        assert split_header(raw) == expected, raw


async def _data_outcome(method: Any, chunks: list[bytes], size_limit: int) -> tuple[Any, ...]:
    """Run one DATA command's reading on a stream fed in chunks: (replies, content, bytes left)."""
    reader = asyncio.StreamReader(limit=SMTP.line_length_limit)
    smtp = object.__new__(PostroomSMTP)
    smtp._reader, smtp.transport, smtp.data_size_limit, smtp._decode_data = (
        reader,
        object(),
        size_limit,
        False,
    )
    smtp._auth_required, smtp.session, smtp.envelope = False, Session(asyncio.get_running_loop()), Envelope()
    smtp.session.host_name = "client.example"
    smtp.envelope.rcpt_tos.append("to@example.com")
    pushed: list[str] = []
    stored: list[bytes | None] = []

    async def push(status: str) -> None:
        pushed.append(status)

    async def handle_data(server: Any, session: Any, envelope: Envelope) -> str:
        stored.append(envelope.original_content)
        assert envelope.content is envelope.original_content
        return "250 stored"

    smtp.push = push  # type: ignore[method-assign]
    smtp._handle_hooks = {"DATA": handle_data}

    async def feed() -> None:
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeder = asyncio.create_task(feed())
    await method(smtp, "")
    await feeder
    return pushed, stored, await reader.read()


def _data_stream(rng: random.Random) -> bytes:
    lines = [b".", b"..", b".x", b"x.", b"", b"a" * 998, b"b" * 999, b"c" * 1000, b"d" * 1001, b"e" * 1500]
    lines += [b"text\rwith\nbare", b"\r", b"\n", b"x" * 70, b". ", b"end."]
    body = b"".join(rng.choice(lines) + b"\r\n" for _ in range(rng.randint(0, 12)))
    return body + b".\r\n" + rng.choice([b"", b"QUIT\r\n", b"MAIL FROM:<a@b>\r\n.\r\n"])


async def test_data_reading_equals_aiosmtpd() -> None:
    rng = random.Random(13)
    for _ in range(600):
        stream = _data_stream(rng)
        size_limit = rng.choice([0, 10, 100, 1000, 2000, 5000, 50000])
        cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(0, 6))))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        ours = await _data_outcome(PostroomSMTP.smtp_DATA, chunks, size_limit)
        theirs = await _data_outcome(SMTP.smtp_DATA, chunks, size_limit)
        assert ours == theirs, (stream, chunks, size_limit)
