"""The database schema: one SQLAlchemy MetaData that migrations are written from."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

# Integer primary keys that autoincrement on both SQLite and PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("parent_id", String(32), ForeignKey("accounts.id"), nullable=True),
    Column("created_at", DateTime, nullable=False),
    # subaccount profile (reference §7.13); the master account keeps the defaults
    Column("email", String(255), nullable=False, server_default=""),
    Column("state", String(16), nullable=False, server_default="active"),  # active | closed
    Column("plan_size", Integer, nullable=False, server_default="10000"),
    Column("dedicated_ip", Boolean, nullable=False, server_default=false()),
    Column("archiving", Boolean, nullable=False, server_default=false()),
    Column("enforce_2fa", Boolean, nullable=False, server_default=false()),
    Column("sms_enabled", Boolean, nullable=False, server_default=false()),
    Column("sms_limit", Integer, nullable=False, server_default="1000"),
    Column("ip_pool", Integer, nullable=True),
    # the pending invitation's nonce (a signed link names it; accepting or reinviting replaces it)
    Column("invite_nonce", String(32), nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),  # first 16 characters of the key: its identity
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("description", String(255), nullable=False, default=""),
    Column("endpoints", JSON, nullable=False),
    Column("status", String(16), nullable=False, default="allowed"),
    Column("created_at", DateTime, nullable=False),
    # rate limit, tracking, archive, audit_email, bounce_notifications, ip_pool, feedback_* (null: defaults)
    Column("settings", JSON, nullable=True),
)

server_state = Table(
    "server_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("email_id", String(32), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("username", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("source", String(16), nullable=False),  # api, mime, smtp
    Column("client_ip", String(64), nullable=False, default=""),
    Column("sender", String(998), nullable=False),  # envelope sender (bare address)
    Column("from_header", Text, nullable=False),  # From as written in the message
    Column("to_addrs", JSON, nullable=False),
    Column("cc_addrs", JSON, nullable=False),
    Column("bcc_addrs", JSON, nullable=False),
    Column("reply_to", Text, nullable=False, default=""),
    Column("subject", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("attachments", JSON, nullable=False),  # [{filename, mimetype, size}]
    Column("raw", LargeBinary, nullable=False),
    # scheduled sending: the id answered to the client, and when the message may leave (null: at once)
    Column("schedule_id", String(36), nullable=True),
    Column("scheduled_at", DateTime, nullable=True),
    # sent with a sandbox key or SMTP user: captured, never delivered, whatever the delivery mode
    Column("sandbox", Boolean, nullable=False, default=False, server_default=false()),
    # the dedicated IP pool (settings.ip_pools id) delivery binds to; null: the default address
    Column("ip_pool", Integer, nullable=True),
    # what was accepted but is worth knowing ("the sender is not a verified sender domain …"); null: none
    Column("warnings", JSON, nullable=True),
    Index("ix_messages_account_created", "account_id", "created_at"),
    Index("ix_messages_created", "created_at"),  # retention
    Index("ux_messages_schedule_id", "schedule_id", unique=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email_id", String(32), ForeignKey("messages.email_id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(32), nullable=False),
    Column("recipient", String(998), nullable=False),
    Column("status", String(16), nullable=False),  # queued, delivered, deferred, bounced
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until", DateTime, nullable=True),
    Column("last_response", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_email", "email_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), nullable=False),
    Column("email_id", String(32), ForeignKey("messages.email_id", ondelete="CASCADE"), nullable=False),
    Column("delivery_id", BigId, nullable=True),
    Column("recipient", String(998), nullable=False),
    Column("event", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("smtp_response", Text, nullable=False, default=""),
    Column("host", String(255), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Index("ix_events_account_created", "account_id", "created_at"),
    Index("ix_events_created", "created_at"),  # retention
    Index("ix_events_account_event_created", "account_id", "event", "created_at"),  # activity by type
    Index("ix_events_email", "email_id"),
)

smtp_users = Table(
    "smtp_users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # Argon2; the password itself is never stored
    Column("description", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="allowed"),  # allowed, blocked, sandbox
    Column("sending_allowed", Boolean, nullable=False, default=True),
    Column("settings", JSON, nullable=False),  # rate limit, tracking, feedback, audit, bounce settings
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

ip_auth = Table(
    "ip_auth",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    # one address, as str(ipaddress.ip_address(...)) with IPv4-mapped IPv6 written as IPv4
    Column("ip_address", String(45), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="allowed"),  # allowed, blocked, sandbox
    Column("sending_allowed", Boolean, nullable=False, default=True),
    Column("settings", JSON, nullable=False),  # the same settings as smtp_users.settings
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_ip_auth_account", "account_id"),
)

ip_allow_lists = Table(
    "ip_allow_lists",
    metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("type", String(8), primary_key=True),  # smtp, api
    Column("enabled", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime, nullable=False),
)

ip_allow_list_entries = Table(
    "ip_allow_list_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("type", String(8), nullable=False),  # smtp, api
    Column("network", String(49), nullable=False),  # CIDR, as str(ipaddress.ip_network(..., strict=False))
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("account_id", "type", "network", name="uq_ip_allow_list_entries_network"),
)

sender_domains = Table(
    "sender_domains",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("domain", String(253), nullable=False, unique=True),  # lower-case, IDNA (A-label) form
    Column("dkim_selector", String(63), nullable=False),
    Column("dkim_private_key", Text, nullable=False),  # PEM, RSA 2048
    Column("return_path_domain", String(253), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("tracking_subdomain", String(63), nullable=False, default="link", server_default="link"),
    Column("returnpath_subdomain", String(63), nullable=False, default="em", server_default="em"),
    Column("dkim_verified", Boolean, nullable=False, default=False, server_default=false()),
    Column("rpath_verified", Boolean, nullable=False, default=False, server_default=false()),
    Column("tracking_verified", Boolean, nullable=False, default=False, server_default=false()),
    Column("dkim_status", Text, nullable=False, default="", server_default=""),
    Column("rpath_status", Text, nullable=False, default="", server_default=""),
    Column("tracking_status", Text, nullable=False, default="", server_default=""),
    Column("verified_at", DateTime, nullable=True),  # last verification attempt
    Column("subaccount_access", JSON, nullable=True),  # {subaccounts: [...], future_subaccounts: bool}
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("email_address", String(998), nullable=False),  # lower-case address, or a bare domain
    Column("type", String(16), nullable=False),  # manual, spam, unsubscribe, bounce, compliance
    Column("reason", Text, nullable=False, default=""),
    Column("email_id", String(32), nullable=True),  # the message whose feedback caused it
    Column("created_at", DateTime, nullable=False),
    # why the account suppressed it (/suppression/add); `reason` holds the bounce or complaint text
    Column("block_description", Text, nullable=False, default="", server_default=""),
    UniqueConstraint("account_id", "email_address", "type", name="uq_suppressions_address_type"),
    Index("ix_suppressions_account_created", "account_id", "created_at", "id"),  # /suppression/view pages
)

feedback_messages = Table(
    "feedback_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", DateTime, nullable=False),
    Column("kind", String(16), nullable=False),  # dsn, arf, unknown
    Column("rcpt_to", String(998), nullable=False),  # the return-path address it came to
    Column("delivery_id", BigId, nullable=True),  # the delivery it was matched to, if any
    Column("summary", Text, nullable=False, default=""),  # what was understood, or why not
    Column("raw", LargeBinary, nullable=False),
    Index("ix_feedback_messages_received", "received_at"),  # retention
)

allowed_list_entries = Table(
    "allowed_list_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # sender, recipient
    Column("entry", String(998), nullable=False),  # lower-case address or domain
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("account_id", "kind", "entry", name="uq_allowed_list_entries_entry"),
)

allowed_list_modes = Table(
    "allowed_list_modes",
    metadata,
    Column("account_id", String(32), ForeignKey("accounts.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # sender, recipient
    Column(
        "mode", String(16), nullable=False
    ),  # senders: whitelist, blacklist, disabled; recipients: enabled, disabled
    Column("updated_at", DateTime, nullable=False),
)

single_senders = Table(
    "single_senders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("email_address", String(320), nullable=False),  # lower-case, IDNA domain
    Column("verified", Boolean, nullable=False, default=False, server_default=false()),
    Column("nonce", String(32), nullable=False),  # the current verification link names it
    Column("created_at", DateTime, nullable=False),
    Column("verified_at", DateTime, nullable=True),
    UniqueConstraint("account_id", "email_address", name="uq_single_senders_address"),
)

# Leases that elect one process among all sharing the database (the scheduler's leader): a row per
# lease, taken when free or expired, renewed by its holder.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False, default=""),
    Column("expires_at", DateTime, nullable=False),
)

# The last run of each periodic task, whichever process ran it.
scheduler_runs = Table(
    "scheduler_runs",
    metadata,
    Column("task", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("duration_seconds", Float, nullable=True),
    Column("outcome", Text, nullable=False, default=""),
    Column("failed", Boolean, nullable=False, default=False),
    Column("runs", Integer, nullable=False, default=0),
)

# Webhooks (/webhook/*): where an account's events are posted.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),  # webhook event names
    Column("sms_events", JSON, nullable=False),
    Column("headers", JSON, nullable=False),  # message headers copied into payloads
    Column("usernames", JSON, nullable=False),  # sender identities; empty: all
    Column("output_format", String(8), nullable=False),  # form, json
    Column("auth_header_type", String(8), nullable=False, default=""),  # bearer, basic, ""
    Column("auth_header_value", Text, nullable=False, default=""),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("secret", String(64), nullable=False),  # signs X-Postroom-Signature
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_webhooks_account", "account_id"),
)

# The webhook outbox: one row per notification (an event, or for `processed` a message, for one
# webhook), written in the transaction that writes the event; claimed with leases like deliveries.
webhook_notifications = Table(
    "webhook_notifications",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),  # order of notifications
    Column("id", String(32), nullable=False, unique=True),  # the payload's `id`, the same on every retry
    Column("webhook_id", BigInteger, nullable=False),
    Column("account_id", String(32), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("email_id", String(32), nullable=False),
    Column("recipient", String(998), nullable=False),  # "" for `processed` (the whole message)
    Column("event", String(32), nullable=False),  # webhook event name
    Column("state", String(16), nullable=False),  # pending, delivered, failed, cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until", DateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_webhook_notifications_due", "state", "next_attempt_at"),
    Index("ix_webhook_notifications_lane", "webhook_id", "email_id", "state"),
)

# Every attempt to post a notification: what the receiver answered, or why there was no answer.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("notification_seq", BigInteger, nullable=False),
    Column("attempted_at", DateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("response_start", Text, nullable=False, default=""),  # the first 1 KB of the answer
    Column("error", Text, nullable=False, default=""),
    Index("ix_webhook_attempts_notification", "notification_seq"),
)

# Statistics: per tenant, day, sender identity and sender address, event token: counts and bytes,
# kept up to date by events/repo.append in the transaction that writes the events.
stats_daily = Table(
    "stats_daily",
    metadata,
    Column("account_id", String(32), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("username", String(200), primary_key=True),
    Column("sender", String(320), primary_key=True),  # envelope sender address (lower case)
    Column("event", String(32), primary_key=True),  # activity token: processed, delivered, …
    Column("domain", String(255), nullable=False),  # the sender's domain
    Column("count", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("last_ip", String(64), nullable=False, default=""),
    Index("ix_stats_daily_account_day", "account_id", "day"),
)

# Email templates (/template/*): caller-chosen ids, unique per account; a subaccount's are its own.
templates = Table(
    "templates",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", String(32), ForeignKey("accounts.id"), nullable=False),
    Column("template_id", String(24), nullable=False),  # the API's `id` (5-24 characters)
    Column("name", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("text_body", Text, nullable=False),
    Column("variables", JSON, nullable=False),  # template_variables: sample data
    Column("tags", JSON, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("account_id", "template_id", name="uq_templates_account_template"),
)
