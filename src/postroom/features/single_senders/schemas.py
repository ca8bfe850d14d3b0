"""Request and response shapes of /single_sender_emails/* (reference §7.5).

SMTP2GO documents only `view`'s answer (`{senders: [{email_address, verified}]}`); the bodies of
`add` and `remove` are placeholders in its specification, so Postroom answers with what a caller
needs next: the address as stored, and what happened to it.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

Mailbox = Annotated[str, Meta(max_length=998)]  # one header line at most; parsing says the rest


class AddRequest(Struct):
    """`message` is added to the verification mail, as SMTP2GO's dashboard lets one do."""

    email_address: Mailbox
    message: Annotated[str, Meta(max_length=5000)] = ""


class ViewRequest(Struct):
    """Without `email_address`, every single sender of the account."""

    email_address: Mailbox = ""


class RemoveRequest(Struct):
    email_address: Mailbox


class Sender(Struct):
    email_address: str
    verified: bool


class SendersResult(Struct):
    senders: list[Sender]


class AddResult(Struct):
    """The address as stored (lower case), still unverified, and that the verification mail went out."""

    email_address: str
    verified: bool
    verification_sent: bool


class RemoveResult(Struct):
    email_address: str
    removed: bool
