"""The capture store: what was sent, for test suites, tools and the web page.

Raises NotFound for a message that is not the caller's, InvalidInput for a bad filter or cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from postroom.clock import rfc3339
from postroom.errors import InvalidInput, NotFound
from postroom.features.activity.dates import parse_date
from postroom.features.api_keys.service import Principal
from postroom.features.messages import repo
from postroom.features.messages.schemas import (
    ListQuery,
    MessageDetail,
    MessageEvent,
    MessageList,
    MessageSummary,
)
from postroom.mail.parse import describe, part_content
from postroom.storage.database import Database


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
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, principal: Principal, q: ListQuery) -> MessageList:
        since = None
        if q.since:
            try:
                since = parse_date(q.since)
            except ValueError:
                raise InvalidInput("since", "The parameter 'since' must be an RFC 3339 time") from None
        cursor = _decode_cursor(q.cursor) if q.cursor else None
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
        info = describe(bytes(row["raw"]))
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
        )

    async def raw(self, principal: Principal, email_id: str) -> bytes:
        raw = await self._db.read(lambda c: repo.get_raw(c, principal.account_id, email_id))
        if raw is None:
            raise NotFound(f"Message '{email_id}' not found")
        return raw

    async def part(self, principal: Principal, email_id: str, index: int) -> tuple[str, str, bytes]:
        """(content type, filename, bytes) of one MIME part: attachments and inline images."""
        found = part_content(await self.raw(principal, email_id), index)
        if found is None:
            raise NotFound(f"Message '{email_id}' has no part {index}")
        return found

    async def delete_all(self, principal: Principal) -> int:
        return await self._db.write(lambda c: repo.delete_all(c, principal.account_id))
