"""The capture store: what was sent, for test suites, tools and the web page.

Postroom's own mail (source "system": single-sender verification links, subaccount invitations) is
stored in the account that asked for it, but its body carries a one-time link meant for its
recipient only: whoever reads it could verify an address they do not own. So unless the server runs
in capture delivery mode (nothing leaves the machine, and developers read such links locally, as in
Mailpit) its body is withheld from the account, sandbox message or not:

- `get` still answers (envelope, headers, subject, size, events), with `body_withheld` true, `text`
  replaced by WITHHELD, and `html`, `parts` and `attachments` empty;
- `raw` and `part` refuse with Forbidden (403) and the same explanation.

Raises NotFound for a message that is not the caller's, InvalidInput for a bad filter or cursor,
Forbidden for the raw source or a part of a withheld message.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from postroom.clock import rfc3339
from postroom.errors import Forbidden, InvalidInput, NotFound
from postroom.features.activity.dates import parse_date
from postroom.features.activity.match import check_search
from postroom.features.api_keys.service import Principal
from postroom.features.messages import repo
from postroom.features.messages.schemas import (
    ListQuery,
    MessageDetail,
    MessageEvent,
    MessageList,
    MessageSummary,
)
from postroom.features.system_mail.service import SOURCE as SYSTEM_SOURCE
from postroom.mail.parse import describe, part_content
from postroom.storage.database import Database

WITHHELD = (
    "The body of this message is withheld: Postroom sent it on its own behalf, and it carries a "
    "one-time link for its recipient only. Its envelope, headers and events are shown; its text, "
    "HTML, parts and raw source are readable only when the server runs in capture delivery mode."
)


def _encode_cursor(at: datetime, email_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), email_id]).encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[datetime, str]:
    try:
        at, email_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return datetime.fromisoformat(at), str(email_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput("cursor", "The parameter 'cursor' is not a valid cursor") from None


def _summary(row: dict[str, Any]) -> MessageSummary:
    return MessageSummary(
        email_id=row["email_id"],
        created_at=rfc3339(row["created_at"]),
        sender=row["sender"],
        to=row["to_addrs"],
        cc=row["cc_addrs"],
        subject=row["subject"],
        size=row["size"],
        attachments=len(row["attachments"]),
    )


class MessageService:
    def __init__(self, db: Database, reveal_system_mail: bool = False) -> None:
        """`reveal_system_mail`: show the body of Postroom's own mail too (capture delivery mode only)."""
        self._db = db
        self._reveal_system_mail = reveal_system_mail

    def _withheld(self, source: str) -> bool:
        return source == SYSTEM_SOURCE and not self._reveal_system_mail

    async def list(self, principal: Principal, q: ListQuery) -> MessageList:
        since = None
        if q.since:
            try:
                since = parse_date(q.since)
            except ValueError:
                raise InvalidInput("since", "The parameter 'since' must be an RFC 3339 time") from None
        cursor = _decode_cursor(q.cursor) if q.cursor else None
        for name, value in (("to", q.to), ("from", q.from_), ("subject", q.subject)):
            check_search(name, value)
        rows = await self._db.read(
            lambda c: repo.list_messages(
                c,
                principal.account_id,
                to=q.to,
                sender=q.from_,
                subject=q.subject,
                since=since,
                cursor=cursor,
                limit=q.limit,
            )
        )
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        next_cursor = _encode_cursor(rows[-1]["created_at"], rows[-1]["email_id"]) if more else None
        return MessageList(messages=[_summary(r) for r in rows], next_cursor=next_cursor)

    async def get(self, principal: Principal, email_id: str) -> MessageDetail:
        def load(c: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            row = repo.get_message(c, principal.account_id, email_id)
            return row, (repo.events_of(c, email_id) if row else [])

        row, events = await self._db.read(load)
        if row is None:
            raise NotFound(f"Message '{email_id}' not found")
        withheld = self._withheld(row["source"])
        info = describe(bytes(row["raw"]))
        if withheld:
            info = {**info, "parts": [], "attachments": [], "text": WITHHELD, "html": ""}
        recipients = row["to_addrs"] + row["cc_addrs"] + row["bcc_addrs"]
        return MessageDetail(
            email_id=row["email_id"],
            created_at=rfc3339(row["created_at"]),
            source=row["source"],
            username=row["username"],
            client_ip=row["client_ip"],
            envelope={"mail_from": row["sender"], "rcpt_to": recipients},
            to=row["to_addrs"],
            cc=row["cc_addrs"],
            bcc=row["bcc_addrs"],
            reply_to=row["reply_to"],
            subject=row["subject"],
            size=row["size"],
            headers=info["headers"],
            parts=info["parts"],
            attachments=info["attachments"],
            text=info["text"],
            html=info["html"],
            events=[
                MessageEvent(
                    e["event"], e["recipient"], rfc3339(e["created_at"]), e["smtp_response"], e["host"]
                )
                for e in events
            ],
            from_=row["from_header"],
            body_withheld=withheld,
            warnings=list(row["warnings"] or []),
        )

    async def raw(self, principal: Principal, email_id: str) -> bytes:
        found = await self._db.read(lambda c: repo.get_raw(c, principal.account_id, email_id))
        if found is None:
            raise NotFound(f"Message '{email_id}' not found")
        raw, source = found
        if self._withheld(source):
            raise Forbidden(WITHHELD)
        return raw

    async def part(self, principal: Principal, email_id: str, index: int) -> tuple[str, str, bytes]:
        """(content type, filename, bytes) of one MIME part: attachments and inline images."""
        found = part_content(await self.raw(principal, email_id), index)
        if found is None:
            raise NotFound(f"Message '{email_id}' has no part {index}")
        return found

    async def delete_all(self, principal: Principal) -> int:
        return await self._db.write(lambda c: repo.delete_all(c, principal.account_id))
