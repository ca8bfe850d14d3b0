"""Single sender emails: addresses an account may send from once their owner opened a verification link.

`add` stores the address unverified with a fresh nonce and mails it a signed link (system_mail): the
mail comes from POSTROOM_SYSTEM_FROM, is recorded in the caller's master account (a subaccount's
verification mail shows in its master's activity and capture store) and links to
`/verify/sender/<token>` on POSTROOM_PUBLIC_URL. The token names the row and its nonce, so adding the
address again (which rotates the nonce and resends) or removing it makes older links stop working.
Opening a current link shows the address and a button (`pending`); pressing it (a POST, which link
scanners do not send) marks the address verified (`verify`). With `require_verified_sender` on, the
account may then send from it even when its domain is not a verified sender domain
(domains/sender_policy.py). A sandbox key's verification mail is captured, never delivered; outside
capture delivery mode the account cannot read its body (features/messages/service.py), so it cannot
verify an address it does not own.

Raises InvalidInput for an address that cannot be parsed, Conflict when adding an address that is
already verified, NotFound when removing one the account does not have.
"""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy import Connection

from postroom.clock import utcnow
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.api_keys.service import Principal
from postroom.features.single_senders import repo
from postroom.features.single_senders.schemas import AddResult, RemoveResult, Sender, SendersResult
from postroom.features.system_mail.links import LinkSigner
from postroom.features.system_mail.service import SystemMailer
from postroom.mail.addresses import AddressError, parse_address
from postroom.storage.database import Database

PURPOSE = "single_sender"
LINK_SECONDS = 7 * 24 * 3600
VERIFY_PATH = "/verify/sender/"
FIELD = "email_address"


def normalize_address(text: str) -> str:
    """The mailbox of `a@b`, `<a@b>` or `Name <a@b>` in stored form (lower case); InvalidInput if none."""
    try:
        return parse_address(text).addr.lower()
    except AddressError as exc:
        reason = f" ({exc.reason})" if exc.reason else ""
        raise InvalidInput(
            FIELD, f"The field '{FIELD}' is not a valid email address: {text!r}{reason}"
        ) from None


def _prepare(conn: Connection, account_id: str, address: str, nonce: str) -> int:
    """Insert the address unverified, or give its unverified row the new nonce; the row's id."""
    row = repo.ensure(conn, account_id, address, nonce, utcnow())
    if row["verified"]:
        raise Conflict(f"The single sender email {address} is already verified")
    repo.set_nonce(conn, row["id"], nonce)
    return int(row["id"])


def _current(conn: Connection, row_id: int, nonce: str) -> str | None:
    """The row's address when it exists and its nonce is the link's, else None."""
    row = repo.by_id(conn, row_id)
    if row is None or not hmac.compare_digest(str(row["nonce"]), nonce):
        return None
    return str(row["email_address"])


def _confirm(conn: Connection, row_id: int, nonce: str) -> str | None:
    """Mark the row verified when it exists and its nonce is the link's; its address, else None."""
    address = _current(conn, row_id, nonce)
    if address is not None:
        repo.mark_verified(conn, row_id, utcnow())
    return address


def verification_text(account_name: str, address: str, message: str, link: str) -> str:
    note = f"\nTheir message to you:\n\n{message.strip()}\n" if message.strip() else ""
    return (
        f'Hello,\n\nThe Postroom account "{account_name}" asked to send email from {address}.\n{note}\n'
        "If this address is yours and you agree, open this link and press its button "
        f"(it works for 7 days):\n\n{link}\n\n"
        "If you did not expect this message, ignore it: nothing will be sent from your address.\n"
    )


class SingleSenderService:
    def __init__(self, db: Database, mailer: SystemMailer, links: LinkSigner) -> None:
        self._db = db
        self._mailer = mailer
        self._links = links

    async def add(self, principal: Principal, email_address: str, message: str = "") -> AddResult:
        """Store the address for the caller's account (unverified) and mail it a verification link."""
        address = normalize_address(email_address)
        nonce = secrets.token_hex(16)
        account_id = principal.account_id
        row_id = await self._db.write(lambda conn: _prepare(conn, account_id, address, nonce))
        token = await self._links.sign(PURPOSE, str(row_id), nonce, LINK_SECONDS)
        text = verification_text(
            principal.account_name, address, message, self._mailer.link(VERIFY_PATH + token)
        )
        master_id = principal.parent_id or principal.account_id
        subject = f"Verify your sender address {address}"
        await self._mailer.send(master_id, address, subject, text, sandbox=principal.sandbox)
        return AddResult(email_address=address, verified=False, verification_sent=True)

    async def view(self, account_id: str, email_address: str = "") -> SendersResult:
        """The account's single senders, or only `email_address` (an empty list when it has not that one)."""
        address = normalize_address(email_address) if email_address else ""
        rows = await self._db.read(lambda conn: repo.listing(conn, account_id, address))
        return SendersResult(senders=[Sender(r["email_address"], bool(r["verified"])) for r in rows])

    async def remove(self, account_id: str, email_address: str) -> RemoveResult:
        """Forget the address: its links stop working, and it may no longer send unless its domain may."""
        address = normalize_address(email_address)
        if not await self._db.write(lambda conn: repo.remove(conn, account_id, address)):
            raise NotFound(f"The single sender email {address} was not found in this account")
        return RemoveResult(email_address=address, removed=True)

    async def _claims(self, token: str) -> tuple[int, str] | None:
        claims = await self._links.verify(token, PURPOSE)
        if claims is None or not claims.subject.isdigit():
            return None
        return int(claims.subject), claims.nonce

    async def pending(self, token: str) -> str | None:
        """The address a current link would verify, changing nothing (what GET on the link shows);
        None for a link that is forged, expired, for something else, or stale."""
        claims = await self._claims(token)
        if claims is None:
            return None
        row_id, nonce = claims
        return await self._db.read(lambda conn: _current(conn, row_id, nonce))

    async def verify(self, token: str) -> str | None:
        """Mark the link's address verified (again, harmlessly, on a repeat); None for a link that is
        forged, expired, for something else, or stale (the address re-added since, or removed)."""
        claims = await self._claims(token)
        if claims is None:
            return None
        row_id, nonce = claims
        return await self._db.write(lambda conn: _confirm(conn, row_id, nonce))
