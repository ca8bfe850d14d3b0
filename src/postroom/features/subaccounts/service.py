"""Subaccounts: a master account's child accounts, and who may act for whom.

A subaccount is a row of `accounts` whose `parent_id` is its master; its id is six lower-case
base-36 characters ("34l8oj"). Only a master account (no parent) has subaccounts. A closed
subaccount's keys are refused like blocked keys: closing and reopening tell the key cache at once
(`on_change`). `plan_size` is reported with this calendar month's stored messages as `plan_used`.
Raises InvalidInput for a bad field, Forbidden when the caller is a subaccount, NotFound for an id
that is not one of the caller's subaccounts and Conflict for a state change that is already done.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from postroom.clock import utcnow
from postroom.errors import Conflict, Forbidden, InvalidInput, NotFound
from postroom.features.api_keys.identity import Principal
from postroom.features.subaccounts import repo
from postroom.features.subaccounts.schemas import (
    DEDICATED_IP_MIN_PLAN,
    PLAN_SIZES,
    SubaccountAddRequest,
    SubaccountEditRequest,
    SubaccountFields,
    SubaccountResult,
    SubaccountSearchRequest,
    SubaccountSearchResult,
)
from postroom.features.system_mail.links import LinkSigner
from postroom.features.system_mail.service import SystemMailer
from postroom.storage.database import Database

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 6
# request field → accounts column
COLUMNS = {
    "fullname": "name",
    "subaccount_email": "email",
    "limit": "plan_size",
    "dedicated_ip": "dedicated_ip",
    "archiving": "archiving",
    "enforce_2fa": "enforce_2fa",
    "enable_sms": "sms_enabled",
    "sms_limit": "sms_limit",
    "ip_pool": "ip_pool",
}
NO_INVITATION = (
    "No invitation email is sent in this version of Postroom: give the subaccount's user an API key instead"
)


def new_subaccount_id() -> str:
    return "".join(secrets.choice(_BASE36) for _ in range(ID_LENGTH))


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def require_master(principal: Principal) -> str:
    """The caller's account id when it is a master account; Forbidden for a subaccount's key."""
    if not principal.is_master:
        raise Forbidden("Only a master account can manage subaccounts")
    return principal.account_id


def _check(values: dict[str, Any]) -> None:
    plan = values.get("plan_size")
    if plan is not None and plan not in PLAN_SIZES:
        allowed = ", ".join(str(p) for p in PLAN_SIZES)
        raise InvalidInput("limit", f"The field 'limit' must be one of {allowed}")
    if values.get("dedicated_ip") and int(values.get("plan_size") or 0) <= DEDICATED_IP_MIN_PLAN:
        raise InvalidInput("dedicated_ip", f"A dedicated IP needs a limit above {DEDICATED_IP_MIN_PLAN}")
    email = values.get("email")
    if email and "@" not in email:
        raise InvalidInput("subaccount_email", "The field 'subaccount_email' must be an email address")


def _values(req: SubaccountFields, fields: set[str]) -> dict[str, Any]:
    return {COLUMNS[f]: getattr(req, f) for f in fields}


def result_of(row: dict[str, Any], used: int) -> SubaccountResult:
    plan = int(row["plan_size"])
    return SubaccountResult(
        name=str(row["name"]),
        email=str(row["email"]),
        id=str(row["id"]),
        plan_size=plan,
        plan_used=used,
        plan_remaining=max(0, plan - used),
        state=str(row["state"]).capitalize(),
        dedicated_ip=bool(row["dedicated_ip"]),
        archiving=bool(row["archiving"]),
        enforce_2fa=bool(row["enforce_2fa"]),
        sms_enabled=bool(row["sms_enabled"]),
        sms_limit=int(row["sms_limit"]),
    )


def _result(conn: Connection, row: dict[str, Any]) -> SubaccountResult:
    used = repo.sent_since(conn, [row["id"]], month_start(utcnow())).get(row["id"], 0)
    return result_of(row, used)


def _child(conn: Connection, parent_id: str, subaccount_id: str) -> dict[str, Any]:
    row = repo.account(conn, subaccount_id.strip().lower())
    if row is None or row["parent_id"] != parent_id:
        raise NotFound(f"No subaccount with id {subaccount_id!r} was found")
    return row


class SubaccountService:
    def __init__(
        self,
        db: Database,
        on_change: Callable[[], None] | None = None,
        mailer: SystemMailer | None = None,
        links: LinkSigner | None = None,
    ) -> None:
        self._db = db
        self._on_change = on_change or (lambda: None)
        self._mailer = mailer
        self._links = links

    async def add(self, principal: Principal, req: SubaccountAddRequest) -> SubaccountResult:
        parent_id = require_master(principal)
        values = _values(req, set(COLUMNS))
        _check(values)

        def write(conn: Connection) -> SubaccountResult:
            account_id = new_subaccount_id()
            while repo.exists(conn, account_id):
                account_id = new_subaccount_id()
            row = {
                **values,
                "id": account_id,
                "parent_id": parent_id,
                "state": "active",
                "created_at": utcnow(),
            }
            repo.insert_subaccount(conn, row)
            return result_of(row, 0)

        return await self._db.write(write)

    async def edit(
        self, principal: Principal, req: SubaccountEditRequest, given: set[str]
    ) -> SubaccountResult:
        parent_id = require_master(principal)
        changes = _values(req, given & set(COLUMNS))

        def write(conn: Connection) -> SubaccountResult:
            row = _child(conn, parent_id, req.id)
            merged = {**row, **changes}
            _check(merged)
            if changes:
                repo.update_subaccount(conn, row["id"], changes)
            return _result(conn, merged)

        return await self._db.write(write)

    async def search(self, principal: Principal, req: SubaccountSearchRequest) -> SubaccountSearchResult:
        parent_id = require_master(principal)
        try:
            offset = int(req.continue_token or 0)
        except ValueError:
            raise InvalidInput("continue_token", "The field 'continue_token' is not a valid token") from None

        def read(conn: Connection) -> SubaccountSearchResult:
            rows = [r for r in repo.children(conn, parent_id) if _matches(r, req)]
            if req.sort_direction.lower() == "desc":
                rows.reverse()
            page = rows[offset : offset + req.page_size]
            used = repo.sent_since(conn, [r["id"] for r in page], month_start(utcnow()))
            more = offset + req.page_size < len(rows)
            return SubaccountSearchResult(
                continue_token=str(offset + req.page_size) if more else "",
                total_count=len(rows),
                subaccounts=[result_of(r, used.get(r["id"], 0)) for r in page],
            )

        return await self._db.read(read)

    async def set_state(self, principal: Principal, subaccount_id: str, state: str) -> str:
        """Close (`closed`) or reopen (`active`) a subaccount; the sentence SMTP2GO answers."""
        parent_id = require_master(principal)
        verb = "closed" if state == "closed" else "reopened"

        def write(conn: Connection) -> str:
            row = _child(conn, parent_id, subaccount_id)
            if row["state"] == state:
                raise Conflict(
                    f"The subaccount {row['id']} is already {'closed' if verb == 'closed' else 'open'}"
                )
            repo.update_subaccount(conn, row["id"], {"state": state})
            return f"Successfully {verb} subaccount {row['email'] or row['name']}"

        answer = await self._db.write(write)
        self._on_change()  # the subaccount's keys are refused (or accepted again) at once
        return answer

    async def reinvite(self, principal: Principal, subaccount_id: str) -> str:
        parent_id = require_master(principal)
        await self._db.read(lambda conn: _child(conn, parent_id, subaccount_id))
        return NO_INVITATION

    async def cycle(self, account_id: str) -> tuple[datetime, int, int]:
        """This calendar month's start, the messages the account stored in it, and its plan size."""
        start = month_start(utcnow())

        def read(conn: Connection) -> tuple[datetime, int, int]:
            row = repo.account(conn, account_id)
            plan = int(row["plan_size"]) if row else 0
            return start, repo.sent_since(conn, [account_id], start).get(account_id, 0), plan

        return await self._db.read(read)

    async def check_quota(self, principal: Principal, messages: int) -> None:
        """Conflict (402) when a subaccount's monthly plan cannot take `messages` more; masters have none."""
        if principal.is_master:
            return
        _, used, plan = await self.cycle(principal.account_id)
        if used + messages > plan:
            raise Conflict(
                f"The monthly email quota of {plan} emails is exhausted ({used} sent this month)"
                if used >= plan
                else f"The monthly email quota of {plan} emails leaves room for {plan - used} more"
            )

    async def act_for(self, principal: Principal, subaccount_id: str) -> Principal:
        """The principal a master key runs as for its subaccount: Forbidden for a subaccount key or an
        id that is not the caller's subaccount, Conflict for a closed subaccount."""
        if not principal.is_master:
            raise Forbidden("A subaccount's API key cannot act for another account (subaccount_id)")
        row = await self._db.read(lambda conn: repo.account(conn, subaccount_id.strip().lower()))
        if row is None or row["parent_id"] != principal.account_id:
            raise Forbidden(f"The subaccount {subaccount_id!r} is not a subaccount of this account")
        if row["state"] == "closed":
            raise Conflict(f"The subaccount {row['id']} is closed")
        return replace(
            principal,
            account_id=str(row["id"]),
            account_name=str(row["name"]),
            parent_id=principal.account_id,
            acting_for=str(row["id"]),
        )


def _matches(row: dict[str, Any], req: SubaccountSearchRequest) -> bool:
    if req.states not in ("all", row["state"]):
        return False
    if not req.search_terms:
        return True
    haystack = [str(row["name"]).lower(), str(row["email"]).lower(), str(row["id"]).lower()]
    for term in (t.strip().lower() for t in req.search_terms if t.strip()):
        if any((term in h) if req.fuzzy_search else (term == h) for h in haystack):
            return True
    return False
