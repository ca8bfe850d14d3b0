"""A subaccount's monthly quota: messages stored this calendar month may not exceed its plan.

Two checks. The early one (SubaccountService.check_quota, and the SMTP server at MAIL FROM) reads the
count and refuses a send that cannot fit, before anything is composed. The binding one is
`enforce`, inside the transaction that stores the messages: on PostgreSQL it first locks the
subaccounts' rows (`SELECT … FOR UPDATE`, in id order), on SQLite the store runs under BEGIN
IMMEDIATE, so concurrent sends in any number of processes are counted one after another and the plan
is never overshot. Master accounts have no quota and are never locked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection

from postroom.errors import Conflict
from postroom.features.subaccounts.repo import plans_of, sent_since


class QuotaExceeded(Conflict):
    """402 on the API; `reason` is the same refusal as a phrase for an SMTP reply."""

    def __init__(self, plan: int, used: int) -> None:
        self.reason = quota_phrase(plan, used)
        super().__init__(self.reason[:1].upper() + self.reason[1:])


def quota_phrase(plan: int, used: int) -> str:
    if used >= plan:
        return f"the monthly email quota of {plan} emails is exhausted ({used} sent this month)"
    return f"the monthly email quota of {plan} emails leaves room for {plan - used} more"


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def enforce(conn: Connection, account_ids: Iterable[str], now: datetime) -> None:
    """In the storing transaction, before the messages are inserted (one entry per message): raise
    QuotaExceeded when a subaccount's messages would go over its plan."""
    wanted = Counter(account_ids)
    plans = plans_of(conn, wanted, lock=conn.dialect.name == "postgresql")
    if not plans:
        return
    used = sent_since(conn, sorted(plans), month_start(now))
    for account_id, plan in plans.items():
        so_far = used.get(account_id, 0)
        if so_far + wanted[account_id] > plan:
            raise QuotaExceeded(plan, so_far)
