"""List entries and the per-account snapshot the send policy checks: the matching rules in one place.

An entry is an address or a domain, stored lower case with its domain in IDNA A-label form: a
domain entry as features.domains stores a domain (domains/names.py), an address entry as
mail/addresses.py writes a mailbox (the form of the addresses a message carries). An address entry
matches that address; a domain entry matches every address at exactly that domain: `example.com`
does not match `a@mail.example.com` (list the subdomain too), the rule of suppressions and DKIM
signing. `@example.com` and `*@example.com` are accepted as ways of writing `example.com`.
Matching ignores case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from postroom.errors import InvalidInput
from postroom.features.domains.names import normalize_domain
from postroom.mail.addresses import AddressError, parse_address

WHITELIST, BLACKLIST, DISABLED, ENABLED = "whitelist", "blacklist", "disabled", "enabled"
SENDER, RECIPIENT = "sender", "recipient"  # the `kind` column
_DOMAIN_PREFIXES = ("*@", "@")


def _invalid(field: str, text: str, reason: str = "") -> InvalidInput:
    detail = f" ({reason})" if reason else ""
    return InvalidInput(
        field,
        f"The field '{field}' was expecting email addresses or domain names but found '{text}'{detail}",
    )


def normalize_entry(field: str, text: str) -> str:
    """The stored form of one entry; raises InvalidInput (naming `field`) when it is neither form."""
    value = text.strip()
    for prefix in _DOMAIN_PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    if "@" in value:
        try:
            return parse_address(value).addr.lower()
        except AddressError as exc:
            raise _invalid(field, text, exc.reason) from None
    if value.startswith("*."):
        raise _invalid(field, text, "a domain entry matches that domain only; list each subdomain itself")
    try:
        return normalize_domain(value)
    except InvalidInput:
        raise _invalid(field, text) from None


def normalize_entries(field: str, texts: Sequence[str]) -> list[str]:
    """Every entry in stored form, duplicates dropped, in the order given."""
    return list(dict.fromkeys(normalize_entry(field, t) for t in texts))


def _key(address: str) -> tuple[str, str]:
    """A message address as entries are stored: lower case, non-ASCII domain IDNA-encoded; and its domain."""
    addr = address.lower()
    local, at, domain = addr.rpartition("@")
    if not at:  # not an address (a null sender, a bare `postmaster`): it matches no entry
        return "", ""
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return addr, domain
        addr = f"{local}@{domain}"
    return addr, domain


def listed(entries: frozenset[str], address: str) -> bool:
    """Whether the address, or its domain, is in the entries."""
    if not entries:
        return False
    addr, domain = _key(address)
    return addr in entries or domain in entries


@dataclass(frozen=True)
class Snapshot:
    """One account's two lists as the policy checks them; the default is both features off."""

    sender_mode: str = DISABLED
    senders: frozenset[str] = frozenset()
    recipients_enabled: bool = False
    recipients: frozenset[str] = frozenset()

    @property
    def restricts_senders(self) -> bool:
        """True while a whitelist or blacklist decides who may send (reference §7.6 says this turns
        off sender domain and single sender verification)."""
        return self.sender_mode != DISABLED

    def sender_refusal(self, sender: str) -> str | None:
        if self.sender_mode == DISABLED:
            return None
        shown = sender or "<>"
        if self.sender_mode == WHITELIST and not listed(self.senders, sender):
            return f"Sender '{shown}' is not an allowed sender for this account"
        if self.sender_mode == BLACKLIST and listed(self.senders, sender):
            return f"Sender '{shown}' is a blocked sender for this account"
        return None

    def recipient_refusals(self, recipients: Sequence[str]) -> dict[str, str]:
        if not self.recipients_enabled:
            return {}
        return {
            r: f"Recipient '{r}' is not an allowed recipient for this account"
            for r in recipients
            if not listed(self.recipients, r)
        }


OFF = Snapshot()
