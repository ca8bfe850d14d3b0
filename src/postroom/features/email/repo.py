"""SQL of the send path: one message, its deliveries and their `processed` events, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from postroom.events import repo as event_log
from postroom.features.activity.match import contains
from postroom.features.subaccounts import quota
from postroom.features.suppressions import repo as suppressions
from postroom.storage.tables import accounts, deliveries, events, messages


@dataclass(frozen=True)
class StoredMessage:
    """A composed message ready to be stored, with its envelope."""

    email_id: str
    account_id: str
    username: str
    source: str
    client_ip: str
    sender: str
    from_header: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: str
    subject: str
    raw: bytes
    attachments: list[dict[str, Any]]
    recipients: list[str]
    schedule_id: str | None = None
    scheduled_at: datetime | None = None
    sandbox: bool = False  # captured only, never delivered
    # the dedicated IP pool delivery binds to (settings.ip_pools id): the key's or SMTP user's own;
    # None takes the account's (accounts.ip_pool) when the message is stored, else the default address
    ip_pool: int | None = None
    audit_email: str | None = None  # a hidden copy's recipient that `audited` added (not addressed)
    warnings: tuple[str, ...] = ()  # accepted, but worth knowing (an unverified sender, say)

    def audited(self, audit_email: str | None) -> StoredMessage:
        """The message with the sender's audit address as one more envelope recipient, a Bcc that no
        header shows, so it gets its own delivery and events; unchanged when the address is already
        a recipient (or there is none)."""
        if not audit_email or audit_email.lower() in {r.lower() for r in self.recipients}:
            return self
        return replace(
            self,
            recipients=[*self.recipients, audit_email],
            bcc=[*self.bcc, audit_email],
            audit_email=audit_email,
        )

    @property
    def addressed(self) -> list[str]:
        """The recipients the sender addressed: all but the audit copy."""
        return [r for r in self.recipients if r != self.audit_email]


@dataclass(frozen=True)
class Accepted:
    """A stored message: its id and the recipients refused because they are suppressed; or, with
    `stored` False, a message the send policy refused (`failures` say why)."""

    email_id: str
    refused: list[str]
    recipients: int
    schedule_id: str | None = None
    failures: tuple[str, ...] = ()  # send-policy refusals (of the sender, or of some recipients)
    stored: bool = True

    @property
    def all_refused(self) -> bool:
        return not self.stored or len(self.refused) == self.recipients


def _refused(conn: Connection, items: list[tuple[StoredMessage, datetime]]) -> dict[str, set[str]]:
    """Suppressed recipients of each message, by email id (one query per account in the group)."""
    by_account: dict[str, set[str]] = {}
    for m, _ in items:
        by_account.setdefault(m.account_id, set()).update(m.recipients)
    hits = {account: suppressions.suppressed_among(conn, account, rs) for account, rs in by_account.items()}
    return {m.email_id: {r for r in m.recipients if r.lower() in hits[m.account_id]} for m, _ in items}


def _pools(conn: Connection, items: list[tuple[StoredMessage, datetime]]) -> dict[str, int | None]:
    """Each message's dedicated IP pool. A subaccount's mail always leaves from the pool its master gave
    it (accounts.ip_pool): a key or SMTP user may only name that one, and one that still names an
    earlier pool must not send from an address that may be another tenant's now. A master account's
    key or SMTP user may name any pool; naming none takes the master account's own."""
    ids = {m.account_id for m, _ in items}
    rows = conn.execute(
        select(accounts.c.id, accounts.c.parent_id, accounts.c.ip_pool).where(accounts.c.id.in_(ids))
    )
    accounts_of = {r.id: r for r in rows}
    pools: dict[str, int | None] = {}
    for m, _ in items:
        account = accounts_of.get(m.account_id)
        own = account.ip_pool if account is not None else None
        subaccount = account is not None and account.parent_id is not None
        pools[m.email_id] = own if subaccount or m.ip_pool is None else m.ip_pool
    return pools


def _skipped(m: StoredMessage, refused: set[str]) -> set[str]:
    """The recipients given no delivery: the refused ones, and the audit copy of a message whose
    every addressed recipient is refused (an audit copy follows a message; it is never all of it)."""
    if m.audit_email and all(r in refused for r in m.addressed):
        return refused | {m.audit_email}
    return refused


def _accepted(m: StoredMessage, refused: set[str]) -> Accepted:
    """What the sender is told: about the recipients it addressed (not the audit copy)."""
    addressed = m.addressed
    return Accepted(m.email_id, sorted(r for r in addressed if r in refused), len(addressed), m.schedule_id)


def insert_messages(conn: Connection, items: list[tuple[StoredMessage, datetime]]) -> list[Accepted]:
    """Insert messages, one queued delivery per recipient and a `processed` event for each.

    A suppressed recipient gets no delivery but a `rejected` event instead. A message that names no
    IP pool takes its account's (a subaccount's always does, see _pools). Written for the
    group-commit writer: every message accepted at the same moment goes into one multi-row INSERT
    per table. Returns one Accepted per message, in order. Raises QuotaExceeded when a subaccount's
    messages would go over its monthly plan (the writer then stores the group's messages one by
    one, so only those over it fail).
    """
    quota.enforce(conn, (m.account_id for m, _ in items), items[0][1])
    refused = _refused(conn, items)
    skipped = {m.email_id: _skipped(m, refused[m.email_id]) for m, _ in items}
    pools = _pools(conn, items)
    conn.execute(
        insert(messages),
        [
            {
                "email_id": m.email_id,
                "account_id": m.account_id,
                "username": m.username,
                "created_at": now,
                "source": m.source,
                "client_ip": m.client_ip,
                "sender": m.sender,
                "from_header": m.from_header,
                "to_addrs": m.to,
                "cc_addrs": m.cc,
                "bcc_addrs": m.bcc,
                "reply_to": m.reply_to,
                "subject": m.subject,
                "size": len(m.raw),
                "attachments": m.attachments,
                "raw": m.raw,
                "schedule_id": m.schedule_id,
                "scheduled_at": m.scheduled_at,
                "sandbox": m.sandbox,
                "ip_pool": pools[m.email_id],
                "warnings": list(m.warnings) or None,
            }
            for m, now in items
        ],
    )
    targets = [(m, r, now) for m, now in items for r in m.recipients if r not in skipped[m.email_id]]
    _reject(conn, [(m, r, now) for m, now in items for r in m.recipients if r in refused[m.email_id]])
    if not targets:
        return [_accepted(m, refused[m.email_id]) for m, _ in items]
    ids = (
        conn.execute(
            insert(deliveries).returning(deliveries.c.id, sort_by_parameter_order=True),
            [
                {
                    "email_id": m.email_id,
                    "account_id": m.account_id,
                    "recipient": r,
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": m.scheduled_at or now,
                    "last_response": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for m, r, now in targets
            ],
        )
        .scalars()
        .all()
    )
    event_log.append(
        conn,
        [
            {
                "account_id": m.account_id,
                "email_id": m.email_id,
                "delivery_id": delivery_id,
                "recipient": r,
                "event": "processed",
                "created_at": now,
                "smtp_response": "",
                "host": "",
                "reason": "",
            }
            for delivery_id, (m, r, now) in zip(ids, targets, strict=True)
        ],
    )
    return [_accepted(m, refused[m.email_id]) for m, _ in items]


def _reject(conn: Connection, targets: list[tuple[StoredMessage, str, datetime]]) -> None:
    if targets:
        event_log.append(
            conn,
            [
                {
                    "account_id": m.account_id,
                    "email_id": m.email_id,
                    "delivery_id": None,
                    "recipient": r,
                    "event": "rejected",
                    "created_at": now,
                    "smtp_response": "",
                    "host": "",
                    "reason": "the recipient is on the suppression list",
                }
                for m, r, now in targets
            ],
        )


def _pending(account_id: str, now: datetime) -> list[Any]:
    return [
        messages.c.account_id == account_id,
        messages.c.schedule_id.is_not(None),
        messages.c.scheduled_at > now,
    ]


def scheduled(
    conn: Connection, account_id: str, now: datetime, filters: dict[str, str]
) -> list[dict[str, Any]]:
    """The account's scheduled messages not yet due, soonest first; `schedule_id` matches exactly,
    `subject` and `sender` as substrings in any case."""
    conds = _pending(account_id, now)
    if filters.get("schedule_id"):
        conds.append(messages.c.schedule_id == filters["schedule_id"])
    for name, column in (("subject", messages.c.subject), ("sender", messages.c.sender)):
        if filters.get(name):
            conds.append(contains(column, filters[name]))
    rows = conn.execute(
        select(
            messages.c.schedule_id,
            messages.c.scheduled_at,
            messages.c.sender,
            messages.c.subject,
            messages.c.client_ip,
            messages.c.to_addrs,
            messages.c.cc_addrs,
            messages.c.bcc_addrs,
        )
        .where(*conds)
        .order_by(messages.c.scheduled_at, messages.c.schedule_id)
    ).all()
    return [dict(r._mapping) for r in rows]


def remove_scheduled(conn: Connection, account_id: str, schedule_id: str, now: datetime) -> bool:
    """Delete a scheduled message that is not yet due, with its deliveries and events."""
    email_id = conn.execute(
        select(messages.c.email_id).where(*_pending(account_id, now), messages.c.schedule_id == schedule_id)
    ).scalar()
    if email_id is None:
        return False
    conn.execute(delete(deliveries).where(deliveries.c.email_id == email_id))
    conn.execute(delete(events).where(events.c.email_id == email_id))
    conn.execute(delete(messages).where(messages.c.email_id == email_id))
    return True
