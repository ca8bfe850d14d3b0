"""DKIM (RFC 6376): making RSA keys, the DNS record that publishes them, and signing outgoing messages.

Signing uses dkimpy's canonicalization, header selection and folding, so its output is exactly what
`dkim.DKIM.sign` writes (relaxed/relaxed, rsa-sha256), but the RSA operation runs in OpenSSL through
`cryptography` on a key parsed once: dkimpy parses the PEM and signs in pure Python on every call,
about 9 ms a message, where this takes well under 1 ms.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass
from functools import lru_cache

import dkim  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import Relaxed  # type: ignore[import-untyped]

KEY_BITS = 2048
CRLF = b"\r\n"
SIGNATURE_HEADER = b"DKIM-Signature"
# The header fields a receiver expects to be signed (RFC 6376 §5.4.1), signed when present.
# List-Unsubscribe-Post must be signed for one-click unsubscribe (RFC 8058 §4).
SIGNED_HEADERS = frozenset(
    {
        b"from",
        b"sender",
        b"reply-to",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"in-reply-to",
        b"references",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"list-id",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
        b"feedback-id",
    }
)
# Signed once more than they occur, so a receiver rejects an added instance (RFC 6376 §8.15).
OVERSIGNED_HEADERS = (b"from",)
_BARE_LF = re.compile(rb"(?<!\r)\n")


class DkimError(ValueError):
    """A message or key that cannot be signed with; the text says why."""


@dataclass(frozen=True)
class DkimKey:
    """A new key pair: the private key to store, and the public key to publish in DNS."""

    private_pem: str  # PKCS#1 "RSA PRIVATE KEY", the form opendkim and others read too
    public_b64: str  # base64 of the SubjectPublicKeyInfo DER: the p= tag


def generate_key(bits: int = KEY_BITS) -> DkimKey:
    """A fresh RSA key pair (about 80 ms of CPU for 2048 bits: run it off the event loop)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return DkimKey(pem.decode("ascii"), public_b64_of(key))


def public_b64_of(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def dns_record_value(public_b64: str) -> str:
    """The TXT record value that publishes a public key (RFC 6376 §3.6.1)."""
    return f"v=DKIM1; k=rsa; p={public_b64}"


def record_name(selector: str, domain: str) -> str:
    """Where the TXT record goes (RFC 6376 §3.6.2.1)."""
    return f"{selector}._domainkey.{domain}"


def load_private_key(private_pem: bytes | str) -> rsa.RSAPrivateKey:
    """Parse a PEM private key (PKCS#1 or PKCS#8); raises DkimError if it is not an RSA key.

    cryptography's RSA consistency check costs about 45 ms a key and is skipped: every key signed
    with was made by `generate_key` and stored by Postroom, and OpenSSL checks each CRT signature
    it computes anyway, so a damaged key makes a bad signature, never a leaked one.
    """
    data = private_pem.encode("ascii") if isinstance(private_pem, str) else private_pem
    try:
        key = serialization.load_pem_private_key(data, None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError) as exc:
        raise DkimError(f"unreadable DKIM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimError("the DKIM private key is not an RSA key")
    return key


@lru_cache(maxsize=256)
def _cached_key(private_pem: bytes) -> rsa.RSAPrivateKey:
    return load_private_key(private_pem)


def ascii_domain(domain: str) -> str:
    """A domain as DNS and the d= tag write it: lower case, no final dot, IDNA A-labels."""
    name = domain.strip().rstrip(".").lower()
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise DkimError(f"'{domain}' is not a valid domain name: {exc}") from None


def with_crlf(data: bytes) -> bytes:
    """The message with every bare LF made CRLF (what SMTP sends, and what dkimpy canonicalizes)."""
    if data.count(b"\n") == data.count(CRLF):
        return data
    return _BARE_LF.sub(CRLF, data)


def signed_header_names(headers: list[list[bytes]]) -> list[bytes]:
    """The h= list: each present header worth signing, in order, then each oversigned name once more.

    An oversigned name that is absent is so signed once, which signs its absence: From is always
    in the list, as RFC 6376 §5.4 requires.
    """
    names = [name.lower() for name, _ in headers if name.lower() in SIGNED_HEADERS]
    return names + list(OVERSIGNED_HEADERS)


@dataclass(frozen=True, eq=False)
class SigningKey:
    """A private key parsed once, with the domain (d=) and selector (s=) it signs for."""

    domain: str  # A-label form
    selector: str
    key: rsa.RSAPrivateKey

    @classmethod
    def from_pem(cls, domain: str, selector: str, private_pem: bytes | str) -> SigningKey:
        return cls(ascii_domain(domain), selector, load_private_key(private_pem))

    def sign(self, data: bytes, timestamp: int | None = None) -> bytes:
        """The message (CRLF line endings) with a DKIM-Signature header prepended.

        The rest of the message is returned byte for byte, except that bare LFs become CRLF.
        Raises DkimError when the header section cannot be parsed.
        """
        data = with_crlf(data)
        try:
            headers, body = dkim.rfc822_parse(data)
        except (dkim.DKIMException, IndexError) as exc:  # IndexError: a continuation line first
            raise DkimError(f"cannot DKIM-sign the message: {exc}") from None
        return self._header(headers, body, int(time.time()) if timestamp is None else timestamp) + data

    def _header(self, headers: list[list[bytes]], body: bytes, timestamp: int) -> bytes:
        """The signature header, built as dkimpy's DomainSigner.gen_header builds it."""
        include = signed_header_names(headers)
        domain = self.domain.encode("ascii")
        fields = [
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", b"relaxed/relaxed"),
            (b"d", domain),
            (b"i", b"@" + domain),
            (b"q", b"dns/txt"),
            (b"s", self.selector.encode("ascii")),
            (b"t", str(timestamp).encode("ascii")),
            (b"h", b" : ".join(include)),
            (b"bh", base64.b64encode(hashlib.sha256(Relaxed.canonicalize_body(body)).digest())),
            (b"b", b"0" * 60),  # a placeholder that puts b= on a line of its own, as dkimpy does
        ]
        unsigned = dkim.fold(_joined(fields), namelen=len(SIGNATURE_HEADER), linesep=CRLF)
        unsigned = dkim.RE_BTAG.sub(b"\\1", unsigned)
        hasher = hashlib.sha256()
        canonical = Relaxed.canonicalize_headers(headers)
        dkim.hash_headers(hasher, Relaxed, canonical, include, (SIGNATURE_HEADER, b" " + unsigned), {})
        signature = self.key.sign(hasher.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        fields[-1] = (b"b", base64.b64encode(signature))
        value: bytes = dkim.fold(_joined(fields) + CRLF, namelen=len(SIGNATURE_HEADER), linesep=CRLF)
        return SIGNATURE_HEADER + b": " + value


def _joined(fields: list[tuple[bytes, bytes]]) -> bytes:
    return b"; ".join(name + b"=" + value for name, value in fields)


def sign(data: bytes, domain: str, selector: str, private_pem: bytes | str) -> bytes:
    """The message with a DKIM-Signature header prepended; see SigningKey.sign.

    Parsed keys are kept (by PEM) for the next call; a caller signing many messages for a domain
    can equally keep a SigningKey itself.
    """
    pem = private_pem.encode("ascii") if isinstance(private_pem, str) else private_pem
    return SigningKey(ascii_domain(domain), selector, _cached_key(pem)).sign(data)
