"""What an outbound SMTP reply means for a recipient: delivered, deferred or bounced (RFC 5321, RFC 3463).

A reply is stored as one line of text, `CODE X.Y.Z text` ("550 5.1.1 <x@y>: user unknown"): the basic
code (RFC 5321 §4.2), the enhanced status code when the peer sent one (RFC 3463 §2; RFC 2034 lets it
open every line of the reply) and the text, with the lines of a multi-line reply joined by spaces.
The basic code decides the outcome; the enhanced code only refines it (RFC 3463 §3: its class digit
must agree with the basic code, so a peer that disagrees is judged by the basic code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from postroom.delivery.transports.base import OutcomeKind

Stage = Literal["connect", "ehlo", "starttls", "auth", "mail", "rcpt", "data"]

# RFC 3463 §2: class "." subject "." detail; class is 2, 4 or 5, subject 1-3 digits, detail 1-3 digits.
ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)")

# RFC 5321 §4.5.3.1.10: "too many recipients" is 452; RFC 821 wrongly listed 552, so a client "SHOULD
# treat a 552 code in this case as a temporary, rather than permanent, failure".
TOO_MANY_RECIPIENTS = frozenset({452, 552})

# RFC 7505 §3: a client that finds a null MX fails the delivery at once, with reply code 556 (RFC 7504 §3)
# and enhanced status code 5.1.10 (registered by RFC 7505 §6).
NULL_MX = "556 5.1.10 Recipient address has null MX"


@dataclass(frozen=True)
class Reply:
    """One SMTP reply: the basic code, the enhanced code ("" when the peer sent none) and the text."""

    code: int
    enhanced: str
    text: str

    def __str__(self) -> str:
        return " ".join(part for part in (str(self.code), self.enhanced, self.text) if part)

    @property
    def positive(self) -> bool:
        """2xx (completion) or 3xx (intermediate, e.g. 354 after DATA): RFC 5321 §4.2.1."""
        return 200 <= self.code < 400

    @property
    def transient(self) -> bool:
        """4xx: transient negative completion, try again later (RFC 5321 §4.2.1)."""
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        """5xx: permanent negative completion, do not repeat the same request (RFC 5321 §4.2.1)."""
        return 500 <= self.code < 600


def parse(code: int, message: str) -> Reply:
    """Build a Reply from a code and its (possibly multi-line) text, as aiosmtplib hands them over.

    RFC 2034 §4 puts the enhanced code at the start of every line; it is kept once, from the first line.
    """
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    enhanced = ""
    texts = []
    for line in lines:
        match = ENHANCED.match(line)
        if match:
            enhanced = enhanced or line[: match.end()].strip()
            line = line[match.end() :]
        if line:
            texts.append(line)
    return Reply(code, enhanced, " ".join(texts))


def classify(reply: Reply, stage: Stage) -> OutcomeKind:
    """The outcome for the recipients this reply concerns, at the given stage of the session.

    2xx/3xx → delivered (meaningful as the final reply to DATA); 4xx → deferred; 5xx → bounced, except
    552 to RCPT (RFC 5321 §4.5.3.1.10, see TOO_MANY_RECIPIENTS). A reply outside 2xx-5xx breaks the
    protocol (RFC 5321 §4.2.1 defines no other class), so it is treated as temporary.
    """
    if reply.positive:
        return "delivered"
    if reply.permanent and not (stage == "rcpt" and reply.code == 552):
        return "bounced"
    return "deferred"


def is_too_many_recipients(reply: Reply) -> bool:
    """A RCPT refusal that means "no more recipients in this transaction" (RFC 5321 §4.5.3.1.10)."""
    return reply.code in TOO_MANY_RECIPIENTS
