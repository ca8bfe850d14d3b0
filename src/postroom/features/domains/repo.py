"""SQL for sender domains: one row per domain (unique across accounts), with its DKIM private key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, not_, or_, select, update

from postroom.storage.tables import sender_domains

T = sender_domains.c


def insert_domain(conn: Connection, row: dict[str, Any]) -> int:
    """Store a new domain; its id."""
    result = conn.execute(insert(sender_domains).values(**row).returning(T.id))
    return int(result.scalar_one())


def domain_taken(conn: Connection, domain: str) -> bool:
    """Domains are unique across all accounts: one domain has one signing key."""
    return conn.execute(select(T.id).where(T.domain == domain)).first() is not None


def domains_of(conn: Connection, account_id: str) -> list[dict[str, Any]]:
    query = select(sender_domains).where(T.account_id == account_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(T.domain))]


def domain_of(conn: Connection, account_id: str, domain: str) -> dict[str, Any] | None:
    """The account's row for `domain`; None when it is not the account's (or nobody's)."""
    query = select(sender_domains).where(T.account_id == account_id, T.domain == domain)
    row = conn.execute(query).first()
    return dict(row._mapping) if row is not None else None


def update_domain(conn: Connection, domain_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(sender_domains).where(T.id == domain_id).values(**values))


def store_checks(
    conn: Connection, domain_id: int, subdomains: tuple[str, str], values: dict[str, Any]
) -> bool:
    """Store check results unless the record names changed while the lookups ran; whether stored."""
    tracking, returnpath = subdomains
    query = update(sender_domains).where(
        T.id == domain_id, T.tracking_subdomain == tracking, T.returnpath_subdomain == returnpath
    )
    return conn.execute(query.values(**values)).rowcount == 1


def delete_domain(conn: Connection, account_id: str, domain: str) -> bool:
    query = delete(sender_domains).where(T.account_id == account_id, T.domain == domain)
    return conn.execute(query).rowcount == 1


def due_for_verification(conn: Connection, checked_before: datetime) -> list[dict[str, Any]]:
    """Domains with a record not yet verified, last checked before the time given (or never)."""
    unverified = not_(and_(T.dkim_verified, T.rpath_verified, T.tracking_verified))
    due = or_(T.verified_at.is_(None), T.verified_at < checked_before)
    query = select(sender_domains).where(unverified, due).order_by(T.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def signing_keys_version(conn: Connection) -> tuple[Any, ...]:
    """A cheap fingerprint of the stored key set: (count, newest id, newest created_at).

    Keys are only ever inserted or deleted, never changed in place, so any add or remove changes it
    (created_at too, should a database reuse the id of a deleted newest row)."""
    query = select(func.count(), func.max(T.id), func.max(T.created_at)).select_from(sender_domains)
    return tuple(conn.execute(query).one())


def signing_keys(conn: Connection) -> list[tuple[str, str, str]]:
    """(domain, selector, private key PEM) of every domain, for the delivery workers' keyring."""
    query = select(T.domain, T.dkim_selector, T.dkim_private_key)
    return [(r.domain, r.dkim_selector, r.dkim_private_key) for r in conn.execute(query)]


def verified_domains(conn: Connection, account_id: str) -> frozenset[str]:
    """The account's domains whose DKIM record and return-path CNAME are both verified."""
    rows = conn.execute(
        select(T.domain).where(
            T.account_id == account_id, T.dkim_verified.is_(True), T.rpath_verified.is_(True)
        )
    )
    return frozenset(r.domain for r in rows)
