"""SQL for sender domains: one row per domain (unique across accounts), with its DKIM private key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from postroom.storage.tables import sender_domains


def insert_domain(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(sender_domains).values(**row))


def domain_taken(conn: Connection, domain: str) -> bool:
    """Domains are unique across all accounts: one domain has one signing key."""
    query = select(sender_domains.c.id).where(sender_domains.c.domain == domain)
    return conn.execute(query).first() is not None


def domains_of(conn: Connection, account_id: str) -> list[dict[str, Any]]:
    query = select(sender_domains).where(sender_domains.c.account_id == account_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(sender_domains.c.domain))]


def signing_keys(conn: Connection) -> list[tuple[str, str, str]]:
    """(domain, selector, private key PEM) of every domain, for the delivery workers' keyring."""
    query = select(sender_domains.c.domain, sender_domains.c.dkim_selector, sender_domains.c.dkim_private_key)
    return [(r.domain, r.dkim_selector, r.dkim_private_key) for r in conn.execute(query)]
