"""One frozen settings object, built once at start: defaults <- postroom.toml <- POSTROOM_* env <- flags."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from postroom.dispatch.schedule import RetrySchedule
from postroom.durations import parse_duration as parse_duration
from postroom.errors import ConfigError
from postroom.mail.addresses import AddressError, parse_address

DELIVERY_MODES = ("capture", "relay", "mx")
TLS_POLICIES = ("none", "may", "encrypt", "verify")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
API_KEY_PATTERN = re.compile(r"^api-[0-9A-Fa-f]{32}$")


@dataclass(frozen=True)
class Settings:
    """Every setting with its default; `description` metadata feeds the README table."""

    http_host: str = field(default="127.0.0.1", metadata={"description": "address the HTTP API listens on"})
    http_port: int = field(default=8080, metadata={"description": "port of the HTTP API and web pages"})
    data_dir: Path = field(
        default=Path("./postroom-data"), metadata={"description": "folder for the SQLite database and files"}
    )
    database_url: str = field(
        default="",
        metadata={"description": "SQLAlchemy URL; empty means sqlite in the data dir; postgresql://… works"},
    )
    delivery_mode: str = field(
        default="capture",
        metadata={"description": "capture (store, deliver nothing), relay (one smarthost) or mx (direct)"},
    )
    relay_url: str = field(
        default="",
        metadata={
            "description": "relay mode smarthost: smtp://user:pass@host:port?tls=starttls (or implicit, none)"
        },
    )
    retry_schedule: str = field(
        default="1m,5m,10m,30m,1h,2h,4h",
        metadata={"description": "waits between delivery attempts (s/m/h/d); the last one repeats"},
    )
    max_queue_lifetime: str = field(
        default="5d", metadata={"description": "after this long a deferred delivery becomes a hard bounce"}
    )
    delivery_lease: str = field(
        default="5m",
        metadata={
            "description": "how long a worker holds claimed deliveries; a dead worker's are retried after"
        },
    )
    dns_nameservers: str = field(
        default="", metadata={"description": "host:port,… for MX lookups; empty: the system's resolvers"}
    )
    mx_port: int = field(default=25, metadata={"description": "port MX hosts are contacted on"})
    tls_policy: str = field(
        default="may",
        metadata={
            "description": "outbound TLS: may, encrypt, verify or none; per domain: may,example.com=verify"
        },
    )
    tls_ca_file: str = field(
        default="", metadata={"description": "PEM CA bundle for verify; empty: the system's CAs"}
    )
    mx_concurrency: int = field(
        default=10, metadata={"description": "connections at once per destination domain"}
    )
    mx_rate: int = field(
        default=0, metadata={"description": "messages per minute per destination domain; 0 is unlimited"}
    )
    max_recipients_per_transaction: int = field(
        default=50, metadata={"description": "RCPT TO per outbound SMTP transaction"}
    )
    delivery_timeout: int = field(
        default=60, metadata={"description": "seconds an outbound SMTP peer may stay silent"}
    )
    require_verified_sender: str = field(
        default="auto",
        metadata={
            "description": "refuse mail from unverified sender domains: auto (on in mx mode), true, false"
        },
    )
    return_path_domain: str = field(
        default="",
        metadata={"description": "domain of the VERP return path bounces+<token>@…; empty: the hostname"},
    )
    system_from: str = field(
        default="",
        metadata={
            "description": "From of invitations and verification links, addr or Name <addr>; "
            "empty: postroom@<hostname>"
        },
    )
    public_url: str = field(
        default="",
        metadata={"description": "base URL for links in Postroom's own mail; empty: the HTTP listener's URL"},
    )
    ip_pools: str = field(
        default="",
        metadata={
            "description": "delivery source addresses: name=addr,addr;name2=addr (pool ids count from 1)"
        },
    )
    redis_url: str = field(
        default="",
        metadata={
            "description": "redis://host:port/db for rate limits shared by all processes; empty: per process"
        },
    )
    api_key: str = field(
        default="", metadata={"description": "fixed bootstrap API key (api-<32 hex>); never echoed"}
    )
    max_email_body: int = field(
        default=50 * 1024 * 1024, metadata={"description": "request body limit for /v3/email/* in bytes"}
    )
    max_api_body: int = field(
        default=1024 * 1024, metadata={"description": "request body limit for other endpoints in bytes"}
    )
    endpoint_rate_limits: bool = field(
        default=True,
        metadata={
            "description": "per-key request limits of /activity/search, /api_keys/add, … (off for local use)"
        },
    )
    workers: bool = field(
        default=True, metadata={"description": "run delivery workers and the scheduler inside serve"}
    )
    retention: str = field(
        default="30d",
        metadata={
            "description": "events, captured mail and feedback reports older than this are deleted (0: keep)"
        },
    )
    max_webhooks: int = field(default=10, metadata={"description": "webhooks an account may have"})
    webhook_allow_private: str = field(
        default="auto",
        metadata={
            "description": "webhooks may post to private, loopback, link-local hosts (auto: capture mode)"
        },
    )
    webhook_retry_schedule: str = field(
        default="1m,2m,5m,10m,12m,1h..24h,6h..48h",
        metadata={"description": "waits between webhook attempts; `1h..24h`: every hour until 24 h after"},
    )
    webhook_timeout: int = field(
        default=10, metadata={"description": "seconds a webhook receiver has to answer"}
    )
    scheduler_lease: str = field(
        default="30s",
        metadata={"description": "how long the scheduler's leader holds its lease; another takes over after"},
    )
    sqlite_synchronous: str = field(
        default="FULL", metadata={"description": "SQLite synchronous pragma (FULL survives power loss)"}
    )
    log_level: str = field(default="info", metadata={"description": "debug, info, warning or error"})
    hostname: str = field(
        default="localhost",
        metadata={"description": "the server's name in SMTP greetings and Received headers"},
    )
    smtp_host: str = field(
        default="127.0.0.1", metadata={"description": "address the SMTP server listens on"}
    )
    smtp_port: int = field(
        default=2525, metadata={"description": "SMTP submission port (STARTTLS offered); 0 turns SMTP off"}
    )
    smtps_port: int = field(
        default=0, metadata={"description": "second SMTP port with implicit TLS; 0 is off"}
    )
    smtp_max_size: int = field(default=50 * 1024 * 1024, metadata={"description": "SMTP SIZE limit in bytes"})
    smtp_allow_plain_auth: str = field(
        default="auto",
        metadata={"description": "AUTH before STARTTLS: auto (only on a loopback listener), true or false"},
    )
    smtp_tls_cert: str = field(
        default="",
        metadata={"description": "PEM certificate for STARTTLS/SMTPS; empty: self-signed in data dir"},
    )
    smtp_tls_key: str = field(default="", metadata={"description": "PEM private key for smtp_tls_cert"})
    smtp_max_connections: int = field(
        default=500, metadata={"description": "concurrent SMTP connections; more get 421"}
    )
    smtp_max_recipients: int = field(default=1000, metadata={"description": "RCPT TO per message"})
    smtp_timeout: int = field(default=300, metadata={"description": "seconds an SMTP client may stay silent"})

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'postroom.sqlite3').resolve()}"

    @property
    def plain_auth_allowed(self) -> bool:
        """AUTH without TLS: on by default only when the SMTP listener is on loopback (local development)."""
        value = self.smtp_allow_plain_auth.lower()
        if value == "auto":
            return self.smtp_host in {"127.0.0.1", "::1", "localhost"} or self.smtp_host.startswith("127.")
        return value in _TRUE

    @property
    def retry_delays(self) -> tuple[int, ...]:
        """The retry schedule in seconds (validated at start, so this cannot fail later)."""
        return tuple(parse_duration(part) for part in self.retry_schedule.split(","))

    @property
    def lease_seconds(self) -> int:
        return parse_duration(self.delivery_lease)

    @property
    def webhook_private_allowed(self) -> bool:
        value = self.webhook_allow_private.lower()
        return self.delivery_mode == "capture" if value == "auto" else value in _TRUE

    @property
    def retention_seconds(self) -> int:
        """How long history is kept; 0: forever."""
        return parse_duration(self.retention)

    @property
    def scheduler_lease_seconds(self) -> int:
        return max(1, parse_duration(self.scheduler_lease))

    @property
    def queue_lifetime_seconds(self) -> int:
        return parse_duration(self.max_queue_lifetime)

    @property
    def default_tls_policy(self) -> str:
        return next((p for p in self._tls_policy_parts() if "=" not in p), "may")

    def tls_policy_for(self, domain: str) -> str:
        """The outbound TLS policy for a recipient domain: its own entry, else the default."""
        for part in self._tls_policy_parts():
            name, sep, policy = part.partition("=")
            if sep and name.strip().lower() == domain.lower():
                return policy.strip()
        return self.default_tls_policy

    def _tls_policy_parts(self) -> list[str]:
        return [p.strip() for p in self.tls_policy.split(",") if p.strip()]

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        """(address, port) pairs from dns_nameservers; empty means the system's resolvers."""
        result = []
        for part in filter(None, (p.strip() for p in self.dns_nameservers.split(","))):
            host, port = part, 53
            if part.startswith("["):
                host, _, rest = part[1:].partition("]")
                port = int(rest[1:]) if rest.startswith(":") else 53
            elif part.count(":") == 1:
                host, _, text = part.partition(":")
                port = int(text)
            result.append((host, port))
        return result

    @property
    def verified_sender_required(self) -> bool:
        value = self.require_verified_sender.lower()
        return self.delivery_mode == "mx" if value == "auto" else value in _TRUE

    @property
    def effective_return_path_domain(self) -> str:
        return self.return_path_domain or self.hostname

    @property
    def base_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}/v3/"

    @property
    def system_sender(self) -> str:
        """The address Postroom's own mail comes from."""
        return self.system_from or f"postroom@{self.hostname}"

    @property
    def public_base(self) -> str:
        """Where links in Postroom's own mail point: public_url without a trailing slash."""
        host = f"[{self.http_host}]" if ":" in self.http_host else self.http_host
        return (self.public_url or f"http://{host}:{self.http_port}").rstrip("/")

    @property
    def pools(self) -> list[IpPool]:
        """The configured dedicated IP pools, in order; a pool's id is its position counted from 1."""
        return parse_ip_pools(self.ip_pools)


@dataclass(frozen=True)
class IpPool:
    """A named set of local source addresses delivery may bind to (reference §7.8)."""

    id: int
    name: str
    addresses: tuple[str, ...]


def parse_ip_pools(text: str) -> list[IpPool]:
    """'main=192.0.2.10,192.0.2.11;bulk=192.0.2.20' → pools 1 and 2; ValueError on a bad entry."""
    pools: list[IpPool] = []
    for number, part in enumerate(filter(None, (p.strip() for p in text.split(";"))), start=1):
        name, sep, addresses = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"{part!r} is not name=address,address")
        if any(p.name == name for p in pools):
            raise ValueError(f"the pool name {name!r} is given twice")
        parsed = []
        for raw in filter(None, (a.strip() for a in addresses.split(","))):
            try:
                parsed.append(str(ipaddress.ip_address(raw)))
            except ValueError:
                raise ValueError(f"{raw!r} in pool {name!r} is not an IP address") from None
        if not parsed:
            raise ValueError(f"the pool {name!r} has no addresses")
        pools.append(IpPool(number, name, tuple(parsed)))
    return pools


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """Convert a raw value from toml, env or flags to the setting's type, or raise ConfigError."""
    try:
        if kind in (bool, "bool"):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("expected true/false")
        if kind in (int, "int"):
            if isinstance(value, bool):
                raise ValueError("expected a number")
            return int(value)
        if kind in (Path, "Path"):
            return Path(str(value))
        return str(value)
    except ValueError as exc:
        raise ConfigError(f"setting {name!r}: invalid value {value!r} ({exc})") from None


def _validate(s: Settings) -> None:
    if s.delivery_mode not in DELIVERY_MODES:
        raise ConfigError(
            f"setting 'delivery_mode': {s.delivery_mode!r} is not one of {', '.join(DELIVERY_MODES)}"
        )
    if not 0 < s.http_port < 65536:
        raise ConfigError(f"setting 'http_port': {s.http_port} is not a TCP port")
    if s.api_key and not API_KEY_PATTERN.fullmatch(s.api_key):
        raise ConfigError("setting 'api_key': expected 'api-' followed by 32 hexadecimal characters")
    if s.database_url and not re.match(r"^(sqlite|postgresql|postgres)(\+\w+)?://", s.database_url):
        raise ConfigError("setting 'database_url': expected sqlite:///path or postgresql://…")
    if s.sqlite_synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ConfigError("setting 'sqlite_synchronous': expected OFF, NORMAL, FULL or EXTRA")
    for name in ("smtp_port", "smtps_port"):
        if not 0 <= getattr(s, name) < 65536:
            raise ConfigError(f"setting '{name}': {getattr(s, name)} is not a TCP port (0 turns it off)")
    if s.smtp_allow_plain_auth.lower() not in {"auto", *_TRUE, *_FALSE}:
        raise ConfigError("setting 'smtp_allow_plain_auth': expected auto, true or false")
    if bool(s.smtp_tls_cert) != bool(s.smtp_tls_key):
        raise ConfigError("settings 'smtp_tls_cert' and 'smtp_tls_key' must be given together")
    for name in ("smtp_max_size", "smtp_max_connections", "smtp_max_recipients", "smtp_timeout"):
        if getattr(s, name) < 1:
            raise ConfigError(f"setting '{name}': must be at least 1")
    _validate_delivery(s)
    if s.log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise ConfigError("setting 'log_level': expected debug, info, warning or error")


def _validate_delivery(s: Settings) -> None:
    if s.delivery_mode == "relay" and not s.relay_url:
        raise ConfigError("setting 'relay_url' is required when delivery_mode is relay")
    if s.relay_url:
        from postroom.delivery.relay_url import parse_relay_url  # avoids importing delivery at settings load

        try:
            parse_relay_url(s.relay_url)
        except ValueError as exc:
            raise ConfigError(f"setting 'relay_url': {exc}") from None
    for name in ("retry_schedule", "max_queue_lifetime", "delivery_lease", "retention", "scheduler_lease"):
        try:
            delays = [parse_duration(p) for p in getattr(s, name).split(",")]
        except ValueError as exc:
            raise ConfigError(f"setting '{name}': {exc}") from None
        if name != "retry_schedule" and len(delays) != 1:
            raise ConfigError(f"setting '{name}': expected one duration")
    for part in s._tls_policy_parts():
        policy = part.partition("=")[2] if "=" in part else part
        if policy.strip() not in TLS_POLICIES:
            raise ConfigError(
                f"setting 'tls_policy': {policy.strip()!r} is not one of {', '.join(TLS_POLICIES)}"
            )
    try:
        _ = s.nameservers
    except ValueError:
        raise ConfigError("setting 'dns_nameservers': expected host:port,…") from None
    for name in ("mx_concurrency", "max_recipients_per_transaction", "delivery_timeout"):
        if getattr(s, name) < 1:
            raise ConfigError(f"setting '{name}': must be at least 1")
    if not 0 < s.mx_port < 65536:
        raise ConfigError(f"setting 'mx_port': {s.mx_port} is not a TCP port")
    if s.require_verified_sender.lower() not in {"auto", *_TRUE, *_FALSE}:
        raise ConfigError("setting 'require_verified_sender': expected auto, true or false")
    try:
        _ = s.pools
    except ValueError as exc:
        raise ConfigError(f"setting 'ip_pools': {exc}") from None
    if s.public_url and not re.match(r"^https?://[^/\s]+", s.public_url):
        raise ConfigError("setting 'public_url': expected http://host[:port][/path] or https://…")
    if s.system_from:
        try:
            parse_address(s.system_from)
        except AddressError as exc:
            reason = f": {exc.reason}" if exc.reason else ""
            raise ConfigError(
                "setting 'system_from': expected addr@domain or Name <addr@domain>,"
                f" not {s.system_from!r}{reason}"
            ) from None
    if s.redis_url and not re.match(r"^(redis|rediss|unix)://", s.redis_url):
        raise ConfigError("setting 'redis_url': expected redis://host:port/db, rediss://… or unix://…")
    if s.webhook_allow_private.lower() not in {"auto", *_TRUE, *_FALSE}:
        raise ConfigError("setting 'webhook_allow_private': expected auto, true or false")
    try:
        RetrySchedule.parse(s.webhook_retry_schedule)
    except ValueError as exc:
        raise ConfigError(f"setting 'webhook_retry_schedule': {exc}") from None
    if s.webhook_timeout < 1 or s.max_webhooks < 0:
        raise ConfigError("settings 'webhook_timeout' (≥ 1) and 'max_webhooks' (≥ 0) are out of range")
    if s.mx_rate < 0:
        raise ConfigError("setting 'mx_rate': must be 0 (unlimited) or more")


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    toml_path: Path | None = None,
) -> Settings:
    """Build and validate the settings; raise ConfigError with a readable message on a bad value."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    known = {f.name: f.type for f in fields(Settings)}
    path = toml_path or Path(env.get("POSTROOM_CONFIG", "postroom.toml"))
    if path.is_file():
        try:
            loaded = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        for key, value in loaded.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, known[key], value)
    for name, kind in known.items():
        raw = env.get(f"POSTROOM_{name.upper()}")
        if raw is not None and raw != "":
            values[name] = _coerce(name, kind, raw)
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = _coerce(name, known[name], value)
    settings = Settings(**values)
    _validate(settings)
    return settings


def settings_table() -> list[tuple[str, str, str]]:
    """(env var, default, description) rows for the README's configuration table."""
    rows = []
    for f in fields(Settings):
        default = str(f.default) or "(empty)"
        rows.append((f"POSTROOM_{f.name.upper()}", default, f.metadata.get("description", "")))
    return rows
