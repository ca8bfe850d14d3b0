"""parse_feedback on reports written the way real MTAs write them, and on garbage (it never raises)."""

from __future__ import annotations

import base64
import random

import pytest

from postroom.mail.feedback import DsnRecipient, Feedback, bounce_of_status, parse_feedback


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


POSTFIX_DSN = crlf("""\
Return-Path: <>
Received: by mx.example.org (Postfix) id 4F1C21A0C5; Tue, 14 Jan 2025 10:00:03 +0000 (UTC)
Date: Tue, 14 Jan 2025 10:00:03 +0000 (UTC)
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces+42-0123456789@bounce.postroom.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4F1C21A0C5.1736848803/mx.example.org"
Message-Id: <20250114100003.4F1C21A0C5@mx.example.org>

This is a MIME-encapsulated message.

--4F1C21A0C5.1736848803/mx.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<nobody@example.org>: host mail.example.org[192.0.2.25] said: 550 5.1.1
    <nobody@example.org>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--4F1C21A0C5.1736848803/mx.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
X-Postfix-Queue-ID: 4F1C21A0C5
X-Postfix-Sender: rfc822; bounces+42-0123456789@bounce.postroom.test
Arrival-Date: Tue, 14 Jan 2025 10:00:02 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.org
Original-Recipient: rfc822;Nobody@Example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

--4F1C21A0C5.1736848803/mx.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <bounces+42-0123456789@bounce.postroom.test>
From: Alice <alice@example.com>
To: nobody@example.org
Subject: Hello
Message-ID: <1u0SwL-B9zBpi9ffUq-JAB2@postroom.test>
Date: Tue, 14 Jan 2025 10:00:01 +0000

--4F1C21A0C5.1736848803/mx.example.org--
""")


def test_postfix_hard_bounce() -> None:
    fb = parse_feedback(POSTFIX_DSN)
    assert fb.kind == "dsn" and fb.reporting_mta == "mx.example.org"
    assert fb.recipients == (
        DsnRecipient(
            final_recipient="nobody@example.org",
            original_recipient="Nobody@Example.org",
            action="failed",
            status="5.1.1",
            diagnostic_code="550 5.1.1 <nobody@example.org>: Recipient address rejected: "
            "User unknown in virtual mailbox table",
            remote_mta="mail.example.org",
        ),
    )
    assert fb.recipients[0].bounce == "hard"
    assert fb.original_message_id == "<1u0SwL-B9zBpi9ffUq-JAB2@postroom.test>"
    assert fb.original_header("to") == "nobody@example.org"
    assert fb.original_header("X-Nothing") == ""
    assert fb.summary() == "dsn: nobody@example.org failed 5.1.1"


DELAYED_DSN = crlf("""\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: bounces+7-abcdefabcd@bounce.postroom.test
Subject: Delivery Status Notification (Delay)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000b1"; report-type=delivery-status

--000000000000b1
Content-Type: text/plain; charset="UTF-8"

** Message delayed **

--000000000000b1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; postroom.test
Arrival-Date: Tue, 14 Jan 2025 02:00:00 -0800 (PST)
X-Original-Message-ID: <delayed.1@postroom.test>

Final-Recipient: rfc822; someone@slow.example
Action: delayed
Status: 4.4.1
Diagnostic-Code: smtp; The recipient server did not accept our requests to connect.
Last-Attempt-Date: Tue, 14 Jan 2025 06:00:00 -0800 (PST)
Will-Retry-Until: Sat, 18 Jan 2025 02:00:00 -0800 (PST)

--000000000000b1
Content-Type: message/rfc822

From: Alice <alice@example.com>
To: someone@slow.example
Subject: Later
Message-ID: <delayed.1@postroom.test>

body
--000000000000b1--
""")


def test_delayed_dsn_is_a_soft_bounce_and_a_whole_returned_message_gives_its_headers() -> None:
    fb = parse_feedback(DELAYED_DSN)
    assert fb.kind == "dsn" and len(fb.recipients) == 1
    (rcpt,) = fb.recipients
    assert (rcpt.final_recipient, rcpt.action, rcpt.status, rcpt.bounce) == (
        "someone@slow.example",
        "delayed",
        "4.4.1",
        "soft",
    )
    assert rcpt.diagnostic_code == "The recipient server did not accept our requests to connect."
    assert fb.original_message_id == "<delayed.1@postroom.test>"
    assert fb.original_header("Subject") == "Later"


MULTI_DSN = crlf("""\
From: Mail Delivery System <Mailer-Daemon@exim.example.net>
To: bounces+9-0000000000@bounce.postroom.test
Subject: Mail delivery failed: returning message to sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary=1736848803-eximdsn-1

--1736848803-eximdsn-1
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

--1736848803-eximdsn-1
Content-type: message/delivery-status

Reporting-MTA: dns; exim.example.net

Action: failed
Final-Recipient: rfc822;gone@example.net
Status: 5.0.0
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.2.1 Mailbox disabled

Action: delayed
Final-Recipient: rfc822;full@example.net
Status: 4.2.2

Action: relayed
Final-Recipient: rfc822;relay@example.net
Status: 2.0.0

Final-Recipient: rfc822;ok@example.net
Action: delivered
Status: 2.0.0

Final-Recipient: rfc822;noaction@example.net
Status: 5.7.1 (delivery not authorized)

--1736848803-eximdsn-1
Content-type: text/rfc822-headers
Content-Transfer-Encoding: base64

HEADERS_BASE64
--1736848803-eximdsn-1--
""").replace(
    b"HEADERS_BASE64", base64.encodebytes(b"From: a@example.com\r\nMessage-ID: <multi@postroom.test>\r\n")
)


def test_multi_recipient_dsn_classifies_each_recipient() -> None:
    fb = parse_feedback(MULTI_DSN)
    assert fb.kind == "dsn" and fb.reporting_mta == "exim.example.net"
    got = [(r.final_recipient, r.action, r.status, r.bounce) for r in fb.recipients]
    assert got == [
        ("gone@example.net", "failed", "5.0.0", "hard"),
        ("full@example.net", "delayed", "4.2.2", "soft"),
        ("relay@example.net", "relayed", "2.0.0", "none"),
        ("ok@example.net", "delivered", "2.0.0", "none"),
        ("noaction@example.net", "", "5.7.1", "hard"),
    ]
    assert fb.recipients[0].diagnostic_code == "550 5.2.1 Mailbox disabled"
    assert fb.original_message_id == "<multi@postroom.test>"  # base64 text/rfc822-headers


EXCHANGE_NDR = crlf("""\
From: postmaster@contoso.com
To: bounces+11-1111111111@bounce.postroom.test
Subject: Undeliverable: Quarterly report
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="_000_exchange_"
MIME-Version: 1.0

--_000_exchange_
Content-Type: multipart/alternative; boundary="_001_exchange_"

--_001_exchange_
Content-Type: text/plain; charset="us-ascii"

Delivery has failed to these recipients or groups:

--_001_exchange_
Content-Type: text/html; charset="us-ascii"

<html><body>Delivery has failed</body></html>
--_001_exchange_--

--_000_exchange_
Content-Type: message/delivery-status

Reporting-MTA: dns;BN8PR12MB1234.namprd12.prod.outlook.com
Received-From-MTA: dns;postroom.test
Arrival-Date: Tue, 14 Jan 2025 10:00:00 +0000

Original-Recipient: rfc822;missing@contoso.com
Final-Recipient: rfc822;missing@contoso.com
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not
 found by SMTP address lookup
X-Display-Name: Missing Person

--_000_exchange_
Content-Type: message/rfc822

From: Alice <alice@example.com>
To: <missing@contoso.com>
Message-ID: <exchange.1@postroom.test>
Subject: Quarterly report

x
--_000_exchange_--
""")


def test_exchange_ndr_with_nested_alternative_and_three_digit_detail() -> None:
    fb = parse_feedback(EXCHANGE_NDR)
    assert fb.kind == "dsn"
    (rcpt,) = fb.recipients
    assert (rcpt.final_recipient, rcpt.status, rcpt.bounce) == ("missing@contoso.com", "5.1.10", "hard")
    assert rcpt.diagnostic_code.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found")
    assert fb.reporting_mta == "BN8PR12MB1234.namprd12.prod.outlook.com"
    assert fb.original_message_id == "<exchange.1@postroom.test>"


ARF = crlf("""\
From: <staff@hotmail.example>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <abuse@postroom.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
about this format please see http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounces+77-7777777777@bounce.postroom.test>
Original-Rcpt-To: <user@hotmail.example>
Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT
Reporting-MTA: dns; mail.hotmail.example
Source-IP: 192.0.2.1
Authentication-Results: mail.hotmail.example;
               spf=pass smtp.mail=bounces@bounce.postroom.test
Reported-Domain: example.com

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: <alice@example.com>
Received: from mailserver.example.net (mailserver.example.net
        [192.0.2.1]) by example.com with ESMTP id M63d4137594e46;
        Thu, 08 Mar 2005 14:00:00 -0400
To: <user@hotmail.example>
Subject: Earn money
MIME-Version: 1.0
Content-type: text/plain
Message-ID: <8787KJKJ3K4J3K4J3K4J3.mail@postroom.test>
Date: Thu, 02 Sep 2004 12:31:03 -0500

Spam Spam Spam
--part1_13d.2e68ed54_boundary--
""")


def test_arf_complaint() -> None:
    fb = parse_feedback(ARF)
    assert fb.kind == "arf" and fb.recipients == ()
    report = fb.report
    assert report is not None
    assert (report.feedback_type, report.user_agent, report.version) == ("abuse", "SomeGenerator/1.0", "1")
    assert report.original_rcpt_to == "user@hotmail.example"
    assert report.original_mail_from == "bounces+77-7777777777@bounce.postroom.test"
    assert report.arrival_date == "Thu, 8 Mar 2005 14:00:00 EDT"
    assert (report.reporting_mta, report.source_ip, report.reported_domain) == (
        "mail.hotmail.example",
        "192.0.2.1",
        "example.com",
    )
    assert fb.original_message_id == "<8787KJKJ3K4J3K4J3K4J3.mail@postroom.test>"
    assert fb.original_header("To") == "<user@hotmail.example>"
    assert fb.summary() == "arf: abuse for user@hotmail.example"


def test_arf_without_report_type_and_with_text_headers() -> None:
    raw = ARF.replace(b" report-type=feedback-report;", b"").replace(
        b"Content-Type: message/rfc822", b"Content-Type: text/rfc822-headers"
    )
    fb = parse_feedback(raw)
    assert fb.kind == "arf" and fb.report is not None and fb.report.feedback_type == "abuse"
    assert fb.original_message_id == "<8787KJKJ3K4J3K4J3K4J3.mail@postroom.test>"


QMAIL_BOUNCE = crlf("""\
From: MAILER-DAEMON@old.example
To: bounces+5-5555555555@bounce.postroom.test
Subject: failure notice

Hi. This is the qmail-send program at old.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<user@old.example>:
192.0.2.9 does not like recipient.
Remote host said: 550 No such user here
Giving up on 192.0.2.9.

--- Below this line is a copy of the message.

Return-Path: <bounces+5-5555555555@bounce.postroom.test>
From: alice@example.com
Message-ID: <qmail.1@postroom.test>
Subject: hi
""")


def test_plain_text_bounce_is_unknown_with_guesses() -> None:
    fb = parse_feedback(QMAIL_BOUNCE)
    assert fb.kind == "unknown" and fb.recipients == () and fb.report is None
    assert fb.guessed_status == "5.0.0" and fb.guessed_bounce == "hard"
    assert fb.original_message_id == "<qmail.1@postroom.test>"
    enhanced = QMAIL_BOUNCE.replace(b"550 No such user", b"550-5.1.1 No such user")
    assert parse_feedback(enhanced).guessed_status == "5.1.1"
    temporary = QMAIL_BOUNCE.replace(b"550 No such user", b"452 4.2.2 Mailbox full")
    assert parse_feedback(temporary).guessed_bounce == "soft"
    nothing = parse_feedback(b"Subject: hi\r\n\r\nThanks for the 450 words you sent.\r\n")
    assert nothing.kind == "unknown" and nothing.guessed_status == "" and nothing.guessed_bounce == "none"


def test_report_without_a_status_part_is_unknown() -> None:
    raw = POSTFIX_DSN.replace(b"Content-Type: message/delivery-status", b"Content-Type: text/plain")
    fb = parse_feedback(raw)
    assert fb.kind == "unknown" and fb.guessed_status == "5.1.1"
    assert fb.original_message_id == "<1u0SwL-B9zBpi9ffUq-JAB2@postroom.test>"


def test_global_delivery_status_and_8bit_text() -> None:
    raw = POSTFIX_DSN.replace(
        b"Content-Type: message/delivery-status", b"Content-Type: message/global-delivery-status"
    ).replace(
        b"Final-Recipient: rfc822; nobody@example.org", "Final-Recipient: utf-8; jöran@example.org".encode()
    )
    fb = parse_feedback(raw)
    assert fb.kind == "dsn" and [r.final_recipient for r in fb.recipients] == ["jöran@example.org"]
    latin1 = parse_feedback(POSTFIX_DSN.replace(b"User unknown", b"Usu\xe1rio desconhecido"))
    assert latin1.kind == "dsn" and "Usu\ufffdrio desconhecido" in latin1.recipients[0].diagnostic_code


def test_dsn_returning_a_message_that_itself_holds_a_report_reads_the_outer_one() -> None:
    inner = ARF.replace(b"\r\n", b"\n").decode()
    raw = DELAYED_DSN.replace(
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: message/rfc822\r\n\r\n" + crlf(inner.split("\n\n", 1)[0] + "\n\n"),
    )
    fb = parse_feedback(raw)
    assert fb.kind == "dsn" and fb.recipients[0].action == "delayed"


def test_bounce_of_status() -> None:
    assert [bounce_of_status(s) for s in ("5.1.1", "4.4.7", "2.0.0", "")] == ["hard", "soft", "none", "none"]


def test_delivery_status_with_no_recipients_and_empty_fields() -> None:
    raw = POSTFIX_DSN.split(b"Final-Recipient:")[0] + b"\r\n--4F1C21A0C5.1736848803/mx.example.org--\r\n"
    fb = parse_feedback(raw)
    assert fb.kind == "dsn" and fb.recipients == () and fb.problems
    assert fb.summary() == "dsn: no recipients"


GARBAGE = [
    b"",
    b"\x00\xff\xfe" * 100,
    b"\r\n\r\n\r\n",
    b"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n",
    POSTFIX_DSN[: len(POSTFIX_DSN) // 2],
    POSTFIX_DSN[: POSTFIX_DSN.index(b"Action:") + 5],
    ARF[: ARF.index(b"Feedback-Type") + 4],
    b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64",
    b'Content-Type: multipart/report; boundary=""\r\n\r\n--\r\n--\r\n',
    b"Content-Type: multipart/mixed; boundary=a\r\n\r\n"
    + b"".join(b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" for _ in range(400)),
    b"Content-Type: text/plain; charset=nonexistent-charset\r\n\r\n550 5.1.1 x\r\n",
    b"Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n",
    b":\r\n: :\r\n \r\n\tcontinued\r\n\r\nbody",
]


@pytest.mark.parametrize("raw", GARBAGE)
def test_garbage_never_raises(raw: bytes) -> None:
    fb = parse_feedback(raw)
    assert isinstance(fb, Feedback) and isinstance(fb.summary(), str)


def test_random_bytes_and_mutilated_reports_never_raise() -> None:
    rng = random.Random(1234)
    samples = [POSTFIX_DSN, DELAYED_DSN, MULTI_DSN, EXCHANGE_NDR, ARF, QMAIL_BOUNCE]
    for _ in range(300):
        raw = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 20)):
            at = rng.randrange(len(raw))
            action = rng.random()
            if action < 0.4:
                raw[at] = rng.randrange(256)
            elif action < 0.7:
                del raw[at : at + rng.randint(1, 50)]
            else:
                raw[at:at] = rng.choice([b"\r\n", b"\r\n\r\n", b"--", b":", b";", b"\xff", b" "])
        assert isinstance(parse_feedback(bytes(raw)), Feedback)
    for _ in range(100):
        assert isinstance(parse_feedback(rng.randbytes(rng.randint(0, 2000))), Feedback)
