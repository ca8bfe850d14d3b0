"""quota.InFlight: what a quota check adds to the count it read from the database."""

from __future__ import annotations

from postroom.features.subaccounts.quota import InFlight, QuotaExceeded


def test_open_sends_are_counted_until_they_finish() -> None:
    ledger = InFlight()
    first = ledger.open(2)
    ledger.open(1)
    assert ledger.end_read(ledger.begin_read()) == 3
    ledger.close(first)
    assert ledger.end_read(ledger.begin_read()) == 1


def test_a_send_that_finished_while_a_count_was_read_is_still_counted_for_that_read() -> None:
    ledger = InFlight()
    send = ledger.open(1)
    read = ledger.begin_read()  # the database read may miss the send, which is not stored yet
    ledger.close(send)  # stored now, after the read began
    assert ledger.end_read(read) == 1  # counted (perhaps twice, never not at all)
    assert ledger.end_read(ledger.begin_read()) == 0  # a later read sees it in the database
    assert ledger.idle


def test_finished_sends_are_kept_only_while_an_older_read_runs() -> None:
    ledger = InFlight()
    send = ledger.open(1)
    old = ledger.begin_read()
    ledger.close(send)
    later_send = ledger.open(4)
    young = ledger.begin_read()
    assert ledger.end_read(old) == 5
    assert ledger.end_read(young) == 4  # began after the first send finished: only the open one
    ledger.close(later_send)
    assert ledger.idle


def test_the_refusal_reads_as_a_sentence_and_as_an_smtp_phrase() -> None:
    full, short = QuotaExceeded(2000, 2000), QuotaExceeded(2000, 1998)
    assert full.message == "The monthly email quota of 2000 emails is exhausted (2000 sent this month)"
    assert full.reason.startswith("the monthly email quota") and full.status == 402
    assert short.message == "The monthly email quota of 2000 emails leaves room for 2 more"
