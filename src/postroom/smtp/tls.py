"""TLS for SMTP: the configured certificate, or a self-signed one generated once into the data dir."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from postroom.settings import Settings


def self_signed(hostname: str, cert_path: Path, key_path: Path) -> None:
    """Write a self-signed certificate (ECDSA P-256, 10 years) for hostname, localhost and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [
        x509.DNSName(hostname),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def certificate_paths(settings: Settings) -> tuple[Path, Path]:
    """(cert, key): the configured pair, or the data dir's self-signed pair (created on first use)."""
    if settings.smtp_tls_cert:
        return Path(settings.smtp_tls_cert), Path(settings.smtp_tls_key)
    cert, key = settings.data_dir / "smtp-cert.pem", settings.data_dir / "smtp-key.pem"
    if not (cert.is_file() and key.is_file()):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self_signed(settings.hostname, cert, key)
    return cert, key


def server_context(settings: Settings) -> ssl.SSLContext:
    cert, key = certificate_paths(settings)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
