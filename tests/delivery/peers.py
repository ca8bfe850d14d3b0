"""Real peers on loopback for delivery tests: a scripted aiosmtpd server, a Postfix instance, dnsmasq.

Nothing here leaves 127.0.0.0/8. Postfix and dnsmasq are the Debian binaries, run as throw-away
instances in temporary directories on free ports (their system services are never touched).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from postroom.delivery.transports.base import Job


def require_binary(name: str) -> str:
    """The path of a program the test drives (run as root, like CI); see `missing` when it cannot be."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not path:
        missing(f"{name} is not installed")
    elif os.geteuid() != 0:
        missing(f"{name} instances need root")
    assert path is not None
    return path


def missing(problem: str) -> NoReturn:
    """A failure under POSTROOM_REQUIRE_ALL_TESTS=1 (as .ci/run sets it), else a skip."""
    if os.environ.get("POSTROOM_REQUIRE_ALL_TESTS") == "1":
        pytest.fail(f"POSTROOM_REQUIRE_ALL_TESTS=1 but {problem}")
    pytest.skip(problem)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP on host (dnsmasq listens on both)."""
    while True:
        with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind((host, port))
            except OSError:
                continue
            return port


def job(recipient: str, data: bytes = b"", mail_from: str = "bounces@sender.test", n: int = 1) -> Job:
    """A claimed job with its wire content; `data` defaults to a small message naming the recipient."""
    body = data or message(f"to {recipient}")
    return Job(n, f"email-{n}", "account", recipient, "app@sender.test", 1, mail_from, body)


def message(subject: str, body: str = "Hello.\r\n.a line that starts with a dot\r\n") -> bytes:
    head = (
        "From: app@sender.test\r\nTo: someone@example.test\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@sender.test>\r\nSubject: {subject}\r\n"
    )
    return (head + "\r\n" + body).encode()


# --- certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A test CA and a server certificate it signed (for `names`, plus 127.0.0.1)."""

    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificates(directory: Path, names: list[str]) -> Certificates:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Postroom test CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        _builder(subject, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificates(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    for path in (paths.ca, paths.cert, paths.key):
        path.chmod(0o644)  # Postfix reads them as root; the directory is private anyway
    return paths


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: Any, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- a scripted SMTP peer (aiosmtpd, in the test's event loop) ------------------------------------


@dataclass
class Received:
    """One message as the peer accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    tls: bool
    login: str
    connection: int
    remote: str = ""  # the client's address: where the session came from (its source address)


@dataclass
class Gauge:
    """Sessions open at once; several peers may share one to measure concurrency across them."""

    current: int = 0
    peak: int = 0

    def enter(self) -> None:
        self.current += 1
        self.peak = max(self.peak, self.current)

    def leave(self) -> None:
        self.current -= 1


@dataclass
class Script:
    """What the peer answers. `rcpt` maps a recipient to its reply; `max_recipients` answers 452 4.5.3
    past that many in one transaction; `delay` is slept in DATA (to overlap sessions)."""

    greeting: str = ""
    ehlo: str = ""
    mail: str = ""
    rcpt: dict[str, str] = field(default_factory=dict)
    data: str = ""
    max_recipients: int = 0
    delay: float = 0.0


class ScriptedPeer:
    """An SMTP server on host:port that records sessions and messages and answers as scripted.

    `starttls` offers STARTTLS with that context; `implicit` wraps every connection in TLS; `users`
    turns on AUTH (PLAIN, LOGIN) after TLS. Use `async with ScriptedPeer(...) as peer`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        script: Script | None = None,
        starttls: ssl.SSLContext | None = None,
        implicit: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        gauge: Gauge | None = None,
        smtputf8: bool = True,
    ) -> None:
        self.host = host
        self.smtputf8 = smtputf8
        self.port = port
        self.script = script or Script()
        self.starttls = starttls
        self.implicit = implicit
        self.users = users
        self.gauge = gauge or Gauge()
        self.connections = 0
        self.remote_addresses: list[str] = []  # the client's address of each session, in order
        self.ehlo_names: list[str] = []
        self.messages: list[Received] = []
        self.commands: list[str] = []
        self._server: asyncio.Server | None = None
        self._protocols: list[SMTP] = []

    async def __aenter__(self) -> ScriptedPeer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port, ssl=self.implicit)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            await self._server.wait_closed()
            self._server = None

    def drop_connections(self) -> None:
        """Close every open session from the server side (as a peer's idle timeout does)."""
        for protocol in self._protocols:
            if protocol.transport is not None:
                protocol.transport.close()

    def _protocol(self) -> SMTP:
        authenticate = self._authenticate if self.users is not None else None
        protocol = _PeerSMTP(
            self,
            _Handler(self),
            hostname=f"peer.{self.host}",
            decode_data=False,
            enable_SMTPUTF8=self.smtputf8,
            tls_context=self.starttls,
            authenticator=authenticate,
            auth_require_tls=self.implicit is None,  # aiosmtpd counts only STARTTLS as TLS
            loop=asyncio.get_running_loop(),
        )
        self._protocols.append(protocol)
        return protocol

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword) and self.users is not None
        login, password = data.login.decode(), data.password.decode()
        ok = self.users.get(login) == password
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)


class _PeerSMTP(SMTP):
    def __init__(self, peer: ScriptedPeer, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._peer = peer
        self._greeted = False
        self.number = 0

    async def _handle_client(self) -> None:
        self._peer.connections += 1
        self.number = self._peer.connections
        self._peer.remote_addresses.append(_remote(self.session))
        self._peer.gauge.enter()
        try:
            await super()._handle_client()
        finally:
            self._peer.gauge.leave()

    async def push(self, status: str) -> None:
        if not self._greeted:  # the first reply of a session is the greeting
            self._greeted = True
            status = self._peer.script.greeting or status
        await super().push(status)


class _Handler:
    def __init__(self, peer: ScriptedPeer) -> None:
        self.peer = peer

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.peer.ehlo_names.append(hostname)
        self.peer.commands.append("EHLO")
        session.host_name = hostname
        return [self.peer.script.ehlo] if self.peer.script.ehlo else responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.peer.commands.append("MAIL")
        if self.peer.script.mail:
            return self.peer.script.mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.peer.commands.append("RCPT")
        script = self.peer.script
        if script.max_recipients and len(envelope.rcpt_tos) >= script.max_recipients:
            return "452 4.5.3 Too many recipients"
        reply = script.rcpt.get(address.lower(), "")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.peer.commands.append("RSET")
        return "250 2.0.0 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.peer.commands.append("DATA")
        if self.peer.script.delay:
            await asyncio.sleep(self.peer.script.delay)
        if self.peer.script.data:
            return self.peer.script.data
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        number = server.number if isinstance(server, _PeerSMTP) else 0
        login = session.auth_data if isinstance(session.auth_data, str) else ""
        self.peer.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.content,
                list(envelope.mail_options),
                session.ssl is not None or self.peer.implicit is not None,
                login,
                number,
                _remote(session),
            )
        )
        return f"250 2.0.0 Ok: queued as {len(self.peer.messages)}"


def _remote(session: Session | None) -> str:
    peer = session.peer if session is not None else None
    return str(peer[0]) if isinstance(peer, tuple) else ""


class SilentPeer:
    """Accepts connections and never says a word (for timeouts)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> SilentPeer:
        self._server = await asyncio.start_server(self._hold, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        await reader.read()  # until the client gives up


# --- Postfix ---------------------------------------------------------------------------------------

MASTER_CF = """\
{listen} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
smtp      unix  - - n - - smtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
meta_directory = /etc/postfix
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.test
mydomain = postfix.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {dir}/mail
virtual_mailbox_maps = texthash:{dir}/conf/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
smtpd_banner = $myhostname ESMTP
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_received_header = yes
"""


@dataclass
class Postfix:
    """A running Postfix: `domain` is delivered to Maildirs under `mail` for the `accepted` users."""

    port: int
    domain: str
    directory: Path

    def mailbox(self, user: str) -> list[bytes]:
        folder = self.directory / "mail" / user / "new"
        return [p.read_bytes() for p in sorted(folder.glob("*"))] if folder.is_dir() else []

    def wait_for_mail(self, user: str, count: int = 1, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(found := self.mailbox(user)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{user} got {len(found)} messages, expected {count}\n{self.log()}")
            time.sleep(0.05)
        return found

    def log(self) -> str:
        path = self.directory / "maillog"
        return path.read_text(errors="replace") if path.exists() else "(no maillog)"


@contextlib.contextmanager
def postfix(
    accepted: list[str], certificates: Certificates, domain: str = "example.test", extra: str = ""
) -> Iterator[Postfix]:
    """Start a throw-away Postfix on a free loopback port; stop it and remove its files afterwards.

    Its directories live under /tmp (pytest's own tmp dirs are private to root, and Postfix's
    daemons run as the `postfix` user, which must reach its queue and mailboxes).
    """
    binary = require_binary("postfix")
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        missing("the postfix user does not exist (the Debian package creates it)")
    directory = Path(tempfile.mkdtemp(prefix="postroom-postfix-"))
    directory.chmod(0o755)
    instance = Postfix(free_port(), domain, directory)
    try:
        _write_postfix_config(instance, accepted, certificates, extra)
        _postfix(binary, directory, "check")
        _postfix(binary, directory, "start")
        _wait_for_port("127.0.0.1", instance.port, instance.log)
        yield instance
    finally:
        if (directory / "queue" / "pid" / "master.pid").exists():
            _postfix(binary, directory, "stop", check=False)
            _wait_for_port_closed("127.0.0.1", instance.port)
        shutil.rmtree(directory, ignore_errors=True)


def _write_postfix_config(
    instance: Postfix, accepted: list[str], certificates: Certificates, extra: str = ""
) -> None:
    """main.cf, master.cf and the mailbox map; `extra` lines are appended to main.cf ({dir} expands)."""
    directory = instance.directory
    for name in ("conf", "queue", "data", "mail"):
        (directory / name).mkdir()
    for name in ("data", "mail"):
        shutil.chown(directory / name, "postfix", "postfix")
    entry = pwd.getpwnam("postfix")
    (directory / "conf" / "main.cf").write_text(
        MAIN_CF.format(
            dir=directory,
            domain=instance.domain,
            uid=entry.pw_uid,
            gid=entry.pw_gid,
            cert=certificates.cert,
            key=certificates.key,
        )
        + extra.replace("{dir}", str(directory))
    )
    (directory / "conf" / "master.cf").write_text(MASTER_CF.format(listen=f"127.0.0.1:{instance.port}"))
    (directory / "conf" / "vmailbox").write_text(
        "".join(f"{user}@{instance.domain} {user}/\n" for user in accepted)
    )


def _postfix(binary: str, directory: Path, command: str, check: bool = True) -> None:
    # Postfix prints configuration errors only when stderr is a terminal (else to syslog): a failure
    # shows the maillog, and `postfix -c DIR/conf check` in a terminal tells the rest.
    result = subprocess.run(
        [binary, "-c", str(directory / "conf"), command], capture_output=True, text=True, timeout=30
    )
    if check and result.returncode != 0:
        maillog = directory / "maillog"
        log = maillog.read_text(errors="replace") if maillog.exists() else ""
        raise RuntimeError(f"postfix {command} failed ({result.returncode}): {result.stderr}{log}")


def _wait_for_port(host: str, port: int, log: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on {host}:{port} after {timeout} s\n{log()}")
        time.sleep(0.05)


def _wait_for_port_closed(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)


# --- dnsmasq ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def dnsmasq(records: list[str], local: str = "test") -> Iterator[tuple[str, int]]:
    """Serve `records` (dnsmasq options such as --mx-host=…) on a free loopback port; (address, port).

    `--local=/test/` makes it the authority for the `.test` names it knows (others are NXDOMAIN);
    names outside it get REFUSED, since no upstream server is configured.
    """
    binary = require_binary("dnsmasq")
    port = free_port()
    args = [
        binary,
        "--keep-in-foreground",
        f"--port={port}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--conf-file=/dev/null",
        "--pid-file=",
        "--user=root",
        "--cache-size=0",
        f"--local=/{local}/",
        "--log-facility=-",
        *records,
    ]
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_for_dns(port, process, output)
            yield "127.0.0.1", port
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_dns(port: int, process: subprocess.Popen[str], output: Any, timeout: float = 10.0) -> None:
    """Until dnsmasq answers a query over UDP (a REFUSED or NXDOMAIN answer is an answer)."""
    query = bytes.fromhex("abcd01000001000000000000") + b"\x05ready\x04test\x00\x00\x01\x00\x01"
    deadline = time.monotonic() + timeout
    with socket.socket(type=socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.2)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output.seek(0)
                raise RuntimeError(f"dnsmasq exited with {process.returncode}: {output.read()}")
            udp.sendto(query, ("127.0.0.1", port))
            with contextlib.suppress(TimeoutError, ConnectionRefusedError):
                if udp.recv(512)[:2] == query[:2]:
                    return
            time.sleep(0.05)
    raise RuntimeError(f"dnsmasq did not answer on 127.0.0.1:{port} within {timeout} s")
