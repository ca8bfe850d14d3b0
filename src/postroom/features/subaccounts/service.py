"""Subaccounts: a master account's child accounts, and who may act for whom.

A subaccount is a row of `accounts` whose `parent_id` is its master; its id is six lower-case
base-36 characters ("34l8oj"). Only a master account (no parent) has subaccounts. A closed
subaccount's keys are refused like blocked keys: closing and reopening tell the key cache at once
(`on_change`); its SMTP users are refused too (`is_closed`, `sending_refusal`). `plan_size` is
reported with this calendar month's stored messages as `plan_used`, and is the subaccount's monthly
quota on both doors (`check_quota` early, quota.enforce where messages are stored). A subaccount
with an email address is invited by mail (invitations.py).
Raises InvalidInput for a bad field, Forbidden when the caller is a subaccount, NotFound for an id
that is not one of the caller's subaccounts and Conflict for a state change that is already done.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from postroom.cache import Cache
from postroom.clock import utcnow
from postroom.errors import Conflict, Forbidden, InvalidInput, NotFound
from postroom.features.api_keys.identity import Principal
from postroom.features.dedicated_ips.service import check_pool
from postroom.features.subaccounts import repo
from postroom.features.subaccounts.invitations import Invitation, Invitations, new_nonce
from postroom.features.subaccounts.quota import QuotaExceeded, month_start, quota_phrase
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
from postroom.mail.addresses import AddressError, parse_address
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
# An account's parent, state and plan are remembered this long for the SMTP checks; this process's
# own changes (edit, close, reopen) take effect at once, another process's within this time.
PROFILE_SECONDS = 5.0


def new_subaccount_id() -> str:
    return "".join(secrets.choice(_BASE36) for _ in range(ID_LENGTH))


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
    if email:
        values["email"] = _email(email)


def _email(value: str) -> str:
    """The invitation address as a bare mailbox; InvalidInput when it is not one."""
    try:
        return parse_address(value).addr
    except AddressError as exc:
        reason = f" ({exc.reason})" if exc.reason else ""
        raise InvalidInput(
            "subaccount_email", f"The field 'subaccount_email' must be an email address{reason}"
        ) from None


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
        pool_ids: Collection[int] = (),
    ) -> None:
        self._db = db
        self._pool_ids = pool_ids  # the configured dedicated IP pools that `ip_pool` may name
        self._on_change = on_change or (lambda: None)
        self._invitations = Invitations(db, mailer, links)
        self._profiles: Cache[str, dict[str, Any] | None] = Cache(
            self._load_profile, fresh=PROFILE_SECONDS, name="account profile"
        )

    async def add(self, principal: Principal, req: SubaccountAddRequest) -> SubaccountResult:
        """Create the subaccount; with a `subaccount_email`, mail that address an invitation."""
        parent_id = require_master(principal)
        values = _values(req, set(COLUMNS))
        _check(values)
        check_pool(req.ip_pool, self._pool_ids)
        nonce = new_nonce() if values.get("email") else None
        rows: list[dict[str, Any]] = []

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
                "invite_nonce": nonce,
            }
            repo.insert_subaccount(conn, row)
            rows.append(row)
            return result_of(row, 0)

        result = await self._db.write(write)
        if nonce is not None:
            await self._invitations.send(rows[0], nonce, principal.account_name)
        return result

    async def edit(
        self, principal: Principal, req: SubaccountEditRequest, given: set[str]
    ) -> SubaccountResult:
        parent_id = require_master(principal)
        check_pool(req.ip_pool, self._pool_ids)
        changes = _values(req, given & set(COLUMNS))

        def write(conn: Connection) -> SubaccountResult:
            row = _child(conn, parent_id, req.id)
            if changes.get("email"):
                changes["email"] = _email(changes["email"])
            if "email" in changes and changes["email"] != row["email"]:
                changes["invite_nonce"] = None  # the invitation sent to the old address stops working
            merged = {**row, **changes}
            _check(merged)
            if changes:
                repo.update_subaccount(conn, row["id"], changes)
            return _result(conn, merged)

        result = await self._db.write(write)
        self._profiles.forget(result.id)  # a new plan counts at once
        return result

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
        self._profiles.forget()
        self._on_change()  # the subaccount's keys and SMTP users are refused (or accepted again) at once
        return answer

    async def reinvite(self, principal: Principal, subaccount_id: str) -> str:
        """Mail the invitation again with a new link (older links stop working). InvalidInput for a
        subaccount without an email address, Conflict for a closed one."""
        parent_id = require_master(principal)
        nonce = new_nonce()

        def write(conn: Connection) -> dict[str, Any]:
            row = _child(conn, parent_id, subaccount_id)
            if not row["email"]:
                raise InvalidInput(
                    "id", f"The subaccount {row['id']} has no email address: set one with subaccount_email"
                )
            if row["state"] == "closed":
                raise Conflict(f"The subaccount {row['id']} is closed: reopen it before inviting again")
            repo.update_subaccount(conn, row["id"], {"invite_nonce": nonce})
            return row

        row = await self._db.write(write)
        await self._invitations.send(row, nonce, principal.account_name)
        return f"Invitation resent to {row['email']}"

    async def invitation(self, token: str) -> Invitation | None:
        """The invitation an emailed link names while it can still be accepted, else None."""
        return await self._invitations.find(token)

    async def accept_invitation(self, token: str) -> str:
        """Use an invitation link once: the subaccount's first API key (every permission), shown
        once. InvalidInput when the link is expired, replaced, used, or its subaccount closed."""
        return await self._invitations.accept(token)

    async def cycle(self, account_id: str) -> tuple[datetime, int, int]:
        """This calendar month's start, the messages the account stored in it, and its plan size."""
        start = month_start(utcnow())

        def read(conn: Connection) -> tuple[datetime, int, int]:
            row = repo.account(conn, account_id)
            plan = int(row["plan_size"]) if row else 0
            return start, repo.sent_since(conn, [account_id], start).get(account_id, 0), plan

        return await self._db.read(read)

    async def check_quota(self, principal: Principal, messages: int) -> None:
        """The early check of a send: QuotaExceeded (a Conflict, 402) when a subaccount's monthly
        plan has no room for `messages` more; masters have none. The binding check runs where the
        messages are stored (quota.enforce)."""
        if principal.is_master:
            return
        _, used, plan = await self.cycle(principal.account_id)
        if used + messages > plan:
            raise QuotaExceeded(plan, used)

    async def is_closed(self, account_id: str) -> bool:
        """True for a closed subaccount (its SMTP users are refused at AUTH)."""
        profile = await self._profile(account_id)
        return profile is not None and profile["state"] == "closed"

    async def sending_refusal(self, account_id: str, messages: int = 1) -> str:
        """Why the account cannot send `messages` more now, as a phrase for an SMTP reply ("" when
        it can): its subaccount is closed, or its monthly quota has no room."""
        if await self.is_closed(account_id):
            return f"the subaccount {account_id} is closed"
        # the early check at MAIL FROM; the store at DATA is the binding one (quota.enforce)
        profile = await self._profile(account_id)
        if profile is None or profile["parent_id"] is None:
            return ""
        _, used, plan = await self.cycle(account_id)
        return quota_phrase(plan, used) if used + messages > plan else ""

    async def _profile(self, account_id: str) -> dict[str, Any] | None:
        """The account's row (None: no such account), remembered for PROFILE_SECONDS."""
        return await self._profiles.get(account_id)

    async def _load_profile(self, account_id: str) -> dict[str, Any] | None:
        return await self._db.read(lambda conn: repo.account(conn, account_id))

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
