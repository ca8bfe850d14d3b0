"""A subaccount's monthly quota: the refusal sentences, and the sends let through but not yet stored.

The quota is "messages stored this calendar month" (a count over `messages`). A send is checked
before it is stored, so two sends checked at the same time would both see room for one more. The
InFlight ledger closes that gap inside one process: a send that passed the check is counted as
in flight until it has been stored (or has failed), and every check adds what is in flight to what
it read from the database. It never serialises sends, and it never undercounts: a send finished
while a check was reading may be counted twice for that one check (a refusal just at the limit,
never an overshoot).

Across processes (PostgreSQL with several `serve`/`smtp` processes) nothing is shared but the
database, and the count is not locked: processes checking at the same moment can together go over
the plan by at most the sends they have in flight at once. Closing that would need the check and the
insert in one transaction under a lock on the account row, inside the email service.
"""

from __future__ import annotations

import itertools

from postroom.errors import Conflict


class QuotaExceeded(Conflict):
    """402 on the API; `reason` is the same refusal as a phrase for an SMTP reply."""

    def __init__(self, plan: int, used: int) -> None:
        self.reason = quota_phrase(plan, used)
        super().__init__(self.reason[:1].upper() + self.reason[1:])


def quota_phrase(plan: int, used: int) -> str:
    if used >= plan:
        return f"the monthly email quota of {plan} emails is exhausted ({used} sent this month)"
    return f"the monthly email quota of {plan} emails leaves room for {plan - used} more"


class InFlight:
    """One account's sends that passed the quota check and are not known to be stored yet.

    All methods are synchronous, so a check's "read the count, add what is in flight, reserve" runs
    between two awaits and no other send of this process can come in between.
    """

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._finishes = 0  # how many sends have finished, ever: the ledger's clock
        self._open: dict[int, int] = {}  # reservation → messages
        self._reads: dict[int, int] = {}  # a check's database read in progress → the clock at its start
        self._finished: list[tuple[int, int]] = []  # (clock when finished, messages), while reads run

    def begin_read(self) -> int:
        """Before a check reads the count: sends that finish from now on may be missing from it."""
        read = next(self._ids)
        self._reads[read] = self._finishes
        return read

    def end_read(self, read: int) -> int:
        """After the read: what is in flight for it (open sends, and those that finished meanwhile)."""
        start = self._reads.pop(read)
        pending = sum(self._open.values()) + sum(n for at, n in self._finished if at > start)
        oldest = min(self._reads.values(), default=self._finishes)
        self._finished = [(at, n) for at, n in self._finished if at > oldest]
        return pending

    def open(self, messages: int) -> int:
        reservation = next(self._ids)
        self._open[reservation] = messages
        return reservation

    def close(self, reservation: int) -> None:
        """The send was stored (or failed); a read that began before now may not have seen it."""
        messages = self._open.pop(reservation)
        self._finishes += 1
        if self._reads:
            self._finished.append((self._finishes, messages))

    @property
    def idle(self) -> bool:
        return not self._open and not self._reads
