"""A subaccount's invitation: the mail with a signed link, and accepting it for a first API key.

The link is `<public base>/invitations/<token>`, the token signed for purpose "invite" with the
subaccount's id and a nonce kept in `accounts.invite_nonce`, valid INVITATION_DAYS days. Sending the
invitation again stores a new nonce, so older links stop working; accepting clears it, so a link
works once. Accepting creates the subaccount's first API key with every permission, shown once on
the page. The mail is recorded in the master account (whose operator sent it).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from postroom.errors import InvalidInput
from postroom.features.api_keys.permissions import ALL
from postroom.features.api_keys.service import create_key
from postroom.features.subaccounts import repo
from postroom.features.system_mail.links import LinkSigner
from postroom.features.system_mail.service import SystemMailer
from postroom.storage.database import Database

PURPOSE = "invite"
INVITATION_DAYS = 7
KEY_DESCRIPTION = "first key (from the invitation)"
INVALID = "This invitation link is not valid: it has expired, was replaced by a newer one, or was used"


@dataclass(frozen=True)
class Invitation:
    """What the invitation page shows before it is accepted."""

    subaccount_id: str
    name: str
    email: str
    master_name: str


def new_nonce() -> str:
    return secrets.token_hex(16)  # 32 characters: accounts.invite_nonce


def _pending(
    conn: Connection, subaccount_id: str, nonce: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The subaccount and its master when `nonce` is its current invitation and it is open."""
    row = repo.account(conn, subaccount_id)
    if row is None or row["parent_id"] is None or row["state"] == "closed":
        return None
    stored = row["invite_nonce"] or ""
    if not stored or not hmac.compare_digest(stored, nonce):
        return None
    master = repo.account(conn, row["parent_id"])
    return (row, master) if master is not None else None


def _accept(conn: Connection, subaccount_id: str, nonce: str) -> str:
    pending = _pending(conn, subaccount_id, nonce)
    if pending is None:
        raise InvalidInput("token", INVALID)
    # conditional, so two processes accepting the same link at once cannot both pass
    if not repo.take_invite_nonce(conn, subaccount_id, nonce):
        raise InvalidInput("token", INVALID)
    return create_key(conn, subaccount_id, [ALL], KEY_DESCRIPTION)


class Invitations:
    def __init__(self, db: Database, mailer: SystemMailer | None, links: LinkSigner | None) -> None:
        self._db = db
        self._mailer = mailer
        self._links = links

    async def send(self, row: dict[str, Any], nonce: str, master_name: str) -> str:
        """Mail the invitation of the subaccount `row` whose nonce was just stored, recorded in its
        master account; the message's email_id ("" when no mailer is wired, as in service tests)."""
        if self._mailer is None or self._links is None:
            return ""
        subaccount_id, name = str(row["id"]), str(row["name"])
        token = await self._links.sign(PURPOSE, subaccount_id, nonce, INVITATION_DAYS * 86400)
        link = self._mailer.link(f"/invitations/{token}")
        subject = f"You are invited to the Postroom subaccount {name}"
        text = (
            f"Hello,\n\n{master_name} has invited you to the subaccount {name} ({subaccount_id}) on Postroom,"
            f" an email server with the SMTP2GO API.\n\n"
            f"Open this link to accept the invitation and get the subaccount's first API key:\n\n{link}\n\n"
            f"The link works once and expires in {INVITATION_DAYS} days. If you did not expect this"
            " invitation, ignore this message.\n"
        )
        return await self._mailer.send(str(row["parent_id"]), str(row["email"]), subject, text)

    async def find(self, token: str) -> Invitation | None:
        """The invitation a link names when it can still be accepted, else None."""
        claims = await self._links.verify(token, PURPOSE) if self._links else None
        if claims is None:
            return None
        pending = await self._db.read(lambda conn: _pending(conn, claims.subject, claims.nonce))
        if pending is None:
            return None
        row, master = pending
        return Invitation(str(row["id"]), str(row["name"]), str(row["email"]), str(master["name"]))

    async def accept(self, token: str) -> str:
        """Use the link: the subaccount's new API key (shown once). InvalidInput for a bad link."""
        claims = await self._links.verify(token, PURPOSE) if self._links else None
        if claims is None:
            raise InvalidInput("token", INVALID)
        return await self._db.write(lambda conn: _accept(conn, claims.subject, claims.nonce))
