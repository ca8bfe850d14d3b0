"""DKIM signing checked by dkimpy's own verifier, against a DNS function that serves our TXT record."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import dkim
import pytest
from cryptography.hazmat.primitives import serialization

from postroom.mail import dkim as pdkim
from postroom.mail.dkim import DkimError, SigningKey

BODY = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n" * 24).encode()
MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Cc: carol@example.org\r\n"
    b"Subject: A subject that is long enough to be folded over more than one line of the header\r\n"
    b" section\r\n"
    b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
    b"Message-ID: <abc.123@example.com>\r\n"
    b"X-Mailer: not signed\r\n"
    b"Received: from somewhere\r\n"
    b"List-Unsubscribe: <mailto:u@example.com>, <https://example.com/u>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"\r\n" + BODY
)


@pytest.fixture(scope="module")
def key() -> pdkim.DkimKey:
    return pdkim.generate_key()


def _dns(key: pdkim.DkimKey, name: str = "s1._domainkey.example.com.") -> Callable[..., bytes | None]:
    def get_txt(query: bytes, timeout: int = 5) -> bytes | None:
        return pdkim.dns_record_value(key.public_b64).encode() if query.decode() == name else None

    return get_txt


def _split(signed: bytes) -> tuple[bytes, bytes]:
    """(the DKIM-Signature header with its CRLF, the rest)."""
    match = re.match(rb"DKIM-Signature:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", signed)
    assert match, signed[:200]
    return match.group(0), signed[match.end() :]


def _tags(header: bytes) -> dict[str, str]:
    value = re.sub(r"\s+", "", header.decode().split(":", 1)[1])
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_generated_key_and_its_dns_record(key: pdkim.DkimKey) -> None:
    private = serialization.load_pem_private_key(key.private_pem.encode(), None)
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert base64.b64decode(key.public_b64) == der
    assert private.key_size == 2048  # type: ignore[union-attr]
    assert key.private_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert pdkim.dns_record_value("QUJD") == "v=DKIM1; k=rsa; p=QUJD"
    assert pdkim.record_name("s1", "example.com") == "s1._domainkey.example.com"


def test_signature_verifies_with_dkimpy(key: pdkim.DkimKey) -> None:
    signed = pdkim.sign(MESSAGE, "example.com", "s1", key.private_pem)
    assert dkim.verify(signed, dnsfunc=_dns(key))


def test_tampered_body_or_header_fails(key: pdkim.DkimKey) -> None:
    signed = pdkim.sign(MESSAGE, "example.com", "s1", key.private_pem)
    assert not dkim.verify(signed.replace(b"Lorem ipsum", b"Lorem IPSUM", 1), dnsfunc=_dns(key))
    assert not dkim.verify(signed.replace(b"Subject: A", b"Subject: B"), dnsfunc=_dns(key))
    header, rest = _split(signed)
    added_from = header + b"From: mallory@example.net\r\n" + rest
    assert not dkim.verify(added_from, dnsfunc=_dns(key))  # From is oversigned
    other_key = pdkim.generate_key()
    assert not dkim.verify(signed, dnsfunc=_dns(other_key))


def test_relaxed_canonicalization_survives_rewrapping(key: pdkim.DkimKey) -> None:
    signed = pdkim.sign(MESSAGE, "example.com", "s1", key.private_pem)
    rewrapped = signed.replace(b"To: Bob <bob@example.org>", b"to:   Bob   <bob@example.org>  ")
    assert dkim.verify(rewrapped.replace(b"tempor.\r\n", b"tempor.  \r\n"), dnsfunc=_dns(key))


def test_signed_headers_are_those_present_and_from_is_oversigned(key: pdkim.DkimKey) -> None:
    header, _ = _split(pdkim.sign(MESSAGE, "example.com", "s1", key.private_pem))
    tags = _tags(header)
    assert tags["h"].split(":") == [
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "from",
    ]
    assert (tags["a"], tags["c"], tags["d"], tags["s"]) == (
        "rsa-sha256",
        "relaxed/relaxed",
        "example.com",
        "s1",
    )


def test_output_is_crlf_throughout_and_the_header_is_folded(key: pdkim.DkimKey) -> None:
    signed = pdkim.sign(MESSAGE, "example.com", "s1", key.private_pem)
    assert signed.count(b"\n") == signed.count(b"\r\n")
    header, _ = _split(signed)
    lines = header.split(b"\r\n")[:-1]
    assert len(lines) > 3 and all(len(line) <= 78 for line in lines)
    assert all(line[:1] in (b" ", b"\t") for line in lines[1:])


def test_the_message_after_the_header_is_byte_identical(key: pdkim.DkimKey) -> None:
    _, rest = _split(pdkim.sign(MESSAGE, "example.com", "s1", key.private_pem))
    assert rest == MESSAGE


def test_bare_lf_input_becomes_crlf_and_verifies(key: pdkim.DkimKey) -> None:
    signed = pdkim.sign(MESSAGE.replace(b"\r\n", b"\n"), "example.com", "s1", key.private_pem)
    assert signed.count(b"\n") == signed.count(b"\r\n")
    assert _split(signed)[1] == MESSAGE
    assert dkim.verify(signed, dnsfunc=_dns(key))


def test_same_bytes_as_dkimpy_for_the_same_time(key: pdkim.DkimKey) -> None:
    """RSA PKCS#1 v1.5 is deterministic: our header must equal the one dkimpy writes itself."""
    signing = SigningKey.from_pem("example.com", "s1", key.private_pem)
    names = pdkim.signed_header_names(dkim.rfc822_parse(MESSAGE)[0])
    reference = dkim.sign(
        MESSAGE,
        b"s1",
        b"example.com",
        key.private_pem.encode(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=names,
    )
    timestamp = int(_tags(reference)["t"])
    assert signing.sign(MESSAGE, timestamp) == reference + MESSAGE


def test_message_without_body_or_from_still_signs(key: pdkim.DkimKey) -> None:
    bare = b"Subject: nothing else\r\n"
    signed = pdkim.sign(bare, "example.com", "s1", key.private_pem)
    header, rest = _split(signed)
    assert rest == bare and _tags(header)["h"] == "subject:from"
    assert dkim.verify(signed, dnsfunc=_dns(key))


def test_idn_domain_is_signed_with_its_a_label(key: pdkim.DkimKey) -> None:
    signed = pdkim.sign(MESSAGE, "Bücher.example.", "s1", key.private_pem)
    assert _tags(_split(signed)[0])["d"] == "xn--bcher-kva.example"
    assert dkim.verify(signed, dnsfunc=_dns(key, "s1._domainkey.xn--bcher-kva.example."))


def test_unparseable_header_and_bad_key_raise_dkim_error(key: pdkim.DkimKey) -> None:
    with pytest.raises(DkimError):
        pdkim.sign(
            b" continuation first\r\nFrom: a@example.com\r\n\r\nx\r\n", "example.com", "s1", key.private_pem
        )
    with pytest.raises(DkimError):
        pdkim.sign(b"no colon in this header line\r\n\r\nx\r\n", "example.com", "s1", key.private_pem)
    with pytest.raises(DkimError):
        SigningKey.from_pem("example.com", "s1", "-----BEGIN RSA PRIVATE KEY-----\nnope\n")
