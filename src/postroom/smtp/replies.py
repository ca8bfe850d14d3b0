"""Every SMTP reply Postroom sends, in one table (RFC 5321 §4.2 codes, RFC 3463 enhanced status codes).

Tests import these constants too, so a reply changes in exactly one place.
"""

from __future__ import annotations

GREETING_IDENT = "Postroom ESMTP"

OK = "250 2.0.0 OK"  # RFC 3463 §3.1 X.0.0 other undefined status
ACCEPTED = "250 2.0.0 OK id={email_id}"  # the API's email_id, so logs line up
FEEDBACK_ACCEPTED = "250 2.0.0 OK feedback {feedback_id}"  # a DSN or complaint to the return path
SENDER_OK = "250 2.1.0 Sender OK"  # X.1.0 other address status
RECIPIENT_OK = "250 2.1.5 Recipient OK"  # X.1.5 destination address valid
BYE = "221 2.0.0 Bye"
AUTH_OK = "235 2.7.0 Authentication successful"  # RFC 4954 §6

MUST_AUTHENTICATE = "530 5.7.0 Authentication required"  # RFC 4954 §6
BAD_CREDENTIALS = "535 5.7.8 Authentication credentials invalid"  # RFC 4954 §6
ENCRYPTION_REQUIRED = "538 5.7.11 Encryption required for requested authentication mechanism"  # RFC 4954 §6
SENDER_REFUSED = "550 5.7.1 Sender not allowed: {reason}"  # X.7.1 delivery not authorized
RECIPIENT_REFUSED = "550 5.7.1 Recipient not allowed: {reason}"
TOO_BIG = "552 5.3.4 Message size exceeds the limit of {limit} bytes"  # X.3.4 message too big for system
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"  # RFC 5321 §4.5.3.1.10, X.5.3
STORAGE_UNAVAILABLE = "451 4.3.0 Storage is temporarily unavailable, try again later"  # X.3.0 mail system
RATE_LIMITED = "451 4.7.1 Sending rate limit exceeded, try again later"  # X.7.1
AUTH_SLOW_DOWN = "454 4.7.0 Too many failed authentications, try again later"  # RFC 4954 §6
TOO_MANY_CONNECTIONS = "421 4.7.0 {hostname} Too many connections, try again later"
SHUTTING_DOWN = "421 4.3.2 {hostname} Service shutting down"  # X.3.2 system not accepting messages
IP_NOT_ALLOWED = "554 5.7.1 {ip} is not on the IP allow list"  # RFC 5321 §3.1 554 at connect
BAD_MESSAGE = "554 5.6.0 Message could not be read: {reason}"  # X.6.0 other media error
INTERNAL = "451 4.3.0 Temporary server error, try again later"
BAD_HELO = "501 5.5.2 Syntax: EHLO followed by a domain or an address literal"  # RFC 5321 §4.1.1.1
BAD_ADDRESS = "553 5.1.3 The address contains characters that are not allowed"  # X.1.3 bad address syntax

# aiosmtpd's own replies, given the enhanced status codes RFC 3463 asks for (we advertise
# ENHANCEDSTATUSCODES, RFC 2034, so every reply must carry one).
TRANSLATED = {
    "250 OK": OK,
    "221 Bye": BYE,
    "552 Error: Too much mail data": "552 5.3.4 Message too big for system",
    "552 Error: message size exceeds fixed maximum message size": "552 5.3.4 Message size exceeds limit",
    "530 Must issue a STARTTLS command first": "530 5.7.0 Must issue a STARTTLS command first",
    "503 Error: need MAIL command": "503 5.5.1 Error: need MAIL command",
    "503 Error: need RCPT command": "503 5.5.1 Error: need RCPT command",
    "503 Error: nested MAIL command": "503 5.5.1 Error: nested MAIL command",
    "503 Already authenticated": "503 5.5.1 Already authenticated",
    "500 Command line too long": "500 5.5.6 Command line too long",
    "500 Line too long (see RFC5321 4.5.3.1.6)": "500 5.5.6 Line too long (RFC 5321 4.5.3.1.6)",
    "500 Error: bad syntax": "500 5.5.2 Error: bad syntax",
    "502 EXPN not implemented": "502 5.5.1 EXPN not implemented",
    "454 TLS not available": "454 4.7.0 TLS not available",
    "220 Ready to start TLS": "220 2.0.0 Ready to start TLS",
    "555 MAIL FROM parameters not recognized or not implemented": "555 5.5.4 MAIL parameters not recognized",
}


def translate(reply: str) -> str:
    """The enhanced form of one of aiosmtpd's built-in replies (others pass through)."""
    return TRANSLATED.get(reply, reply)
