"""The rules of allowed senders and recipients, and the send policy that enforces them.

Each account has two lists (entries.py says what an entry is and matches):
- allowed senders, with a mode: `whitelist` (only listed senders may send), `blacklist` (listed
  senders may not) or `disabled` (no check);
- allowed recipients, `enabled` (only listed recipients may receive; others are refused one by
  one, the message still goes to the rest) or not.
An account that never called `update` has both off (mode `disabled`, enabled false): SMTP2GO's
"default whitelist" describes its settings page, and here it would lock every account to an empty
list. `add` and `remove` never change the mode, except that `enabled`, given to a recipients
`add`/`remove`, is set too.

The policy reads a per-account Snapshot held in memory (cache.py): a change through this service
takes effect at once in this process, one made by another process within CACHE_SECONDS. An
account with both lists off costs no query per message, only one read per CACHE_SECONDS.

Raises InvalidInput for an entry that is neither an address nor a domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from postroom.cache import Cache
from postroom.clock import SYSTEM_CLOCK, Clock, utcnow
from postroom.features.allowed_lists import repo
from postroom.features.allowed_lists.entries import (
    DISABLED,
    ENABLED,
    OFF,
    RECIPIENT,
    SENDER,
    Snapshot,
    normalize_entries,
)
from postroom.features.allowed_lists.schemas import RecipientsResult, SendersResult
from postroom.storage.database import Database

CACHE_SECONDS = 2.0
Listing = tuple[str, list[str]]  # a kind's mode and entries


@dataclass(frozen=True)
class Change:
    """One change to one list: entries to add and remove (after emptying it, when `replace`), and
    the mode to set (None keeps it)."""

    add: Sequence[str] = ()
    remove: Sequence[str] = ()
    replace: bool = False
    mode: str | None = None


def _apply(conn: Connection, account_id: str, kind: str, change: Change) -> Listing:
    """Make the change, and return the list as it is afterwards."""
    now = utcnow()
    if change.replace:
        repo.clear(conn, account_id, kind)
    repo.remove(conn, account_id, kind, change.remove)
    repo.add(conn, account_id, kind, change.add, now)
    if change.mode is not None:
        repo.set_mode(conn, account_id, kind, change.mode, now)
    return _listing(conn, account_id, kind)


def _listing(conn: Connection, account_id: str, kind: str) -> Listing:
    return repo.modes(conn, account_id).get(kind, DISABLED), repo.entries(conn, account_id, kind)


def _snapshot(conn: Connection, account_id: str) -> Snapshot:
    """Both lists as the policy needs them; the entries of a list that is off are not read."""
    modes = repo.modes(conn, account_id)
    sender_mode = modes.get(SENDER, DISABLED)
    recipients_on = modes.get(RECIPIENT) == ENABLED
    if sender_mode == DISABLED and not recipients_on:
        return OFF
    senders = repo.entries(conn, account_id, SENDER) if sender_mode != DISABLED else []
    recipients = repo.entries(conn, account_id, RECIPIENT) if recipients_on else []
    return Snapshot(sender_mode, frozenset(senders), recipients_on, frozenset(recipients))


def _senders(listing: Listing) -> SendersResult:
    return SendersResult(allowed_senders=listing[1], mode=listing[0])


def _recipients(listing: Listing) -> RecipientsResult:
    return RecipientsResult(allowed_recipients=listing[1], enabled=listing[0] == ENABLED)


def _switch(enabled: bool | None) -> str | None:
    return None if enabled is None else ENABLED if enabled else DISABLED


class AllowedListService:
    """Managing both lists (API, dashboard, CLI) and the snapshots the send policy checks."""

    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        # no stale window: the lists are a security setting, so another process's change applies
        # within CACHE_SECONDS even for an account that sent nothing for an hour
        self._snapshots: Cache[str, Snapshot] = Cache(
            self._load, fresh=CACHE_SECONDS, clock=clock, name="allowed-lists snapshot"
        )

    async def snapshot(self, account_id: str) -> Snapshot:
        return await self._snapshots.get(account_id)

    async def _load(self, account_id: str) -> Snapshot:
        return await self._db.read(lambda conn: _snapshot(conn, account_id))

    async def _change(self, account_id: str, kind: str, change: Change) -> Listing:
        """Make one change, then forget the account's snapshot (the change has committed by then)."""
        try:
            return await self._db.write(lambda conn: _apply(conn, account_id, kind, change))
        finally:
            self._snapshots.forget(account_id)

    async def _view(self, account_id: str, kind: str) -> Listing:
        return await self._db.read(lambda conn: _listing(conn, account_id, kind))

    # --- allowed senders ---------------------------------------------------------------------------

    async def view_senders(self, account_id: str) -> SendersResult:
        return _senders(await self._view(account_id, SENDER))

    async def add_senders(self, account_id: str, entries: Sequence[str]) -> SendersResult:
        """Add to the list, whatever the mode (an entry already listed is no error)."""
        new = normalize_entries("allowed_senders", entries)
        return _senders(await self._change(account_id, SENDER, Change(add=new)))

    async def remove_senders(self, account_id: str, entries: Sequence[str]) -> SendersResult:
        """Remove from the list; an entry that is not listed is no error."""
        gone = normalize_entries("allowed_senders", entries)
        return _senders(await self._change(account_id, SENDER, Change(remove=gone)))

    async def update_senders(self, account_id: str, entries: Sequence[str], mode: str) -> SendersResult:
        """Replace the list (an empty one empties it) and set the mode."""
        new = normalize_entries("allowed_senders", entries)
        return _senders(await self._change(account_id, SENDER, Change(add=new, replace=True, mode=mode)))

    # --- allowed recipients ------------------------------------------------------------------------

    async def view_recipients(self, account_id: str) -> RecipientsResult:
        return _recipients(await self._view(account_id, RECIPIENT))

    async def add_recipients(
        self, account_id: str, entries: Sequence[str], enabled: bool | None = None
    ) -> RecipientsResult:
        """Add to the list, and turn it on or off when `enabled` is given."""
        new = normalize_entries("allowed_recipients", entries)
        return _recipients(await self._change(account_id, RECIPIENT, Change(add=new, mode=_switch(enabled))))

    async def remove_recipients(
        self, account_id: str, entries: Sequence[str], enabled: bool | None = None
    ) -> RecipientsResult:
        """Remove from the list (an entry not listed is no error); turn it on or off if `enabled` is given."""
        gone = normalize_entries("allowed_recipients", entries)
        return _recipients(
            await self._change(account_id, RECIPIENT, Change(remove=gone, mode=_switch(enabled)))
        )

    async def update_recipients(
        self, account_id: str, entries: Sequence[str], enabled: bool
    ) -> RecipientsResult:
        """Replace the list (an empty one empties it) and turn it on or off."""
        new = normalize_entries("allowed_recipients", entries)
        return _recipients(
            await self._change(account_id, RECIPIENT, Change(add=new, replace=True, mode=_switch(enabled)))
        )


class AllowedListPolicy:
    """The SendPolicy of allowed senders and recipients (see features/email/policy.py); it shares the
    service the routes use, so a change clears the snapshots it reads at once."""

    def __init__(self, lists: AllowedListService) -> None:
        self._lists = lists

    async def sender_refusal(self, account_id: str, sender: str) -> str | None:
        return (await self._lists.snapshot(account_id)).sender_refusal(sender)

    async def recipient_refusals(self, account_id: str, recipients: Sequence[str]) -> dict[str, str]:
        return (await self._lists.snapshot(account_id)).recipient_refusals(recipients)
