"""The SMTP door's one map from errors to replies: each error kind gets its reply by type, so a
message's wording can never change the reply a client sees."""

from __future__ import annotations

from postroom.errors import InvalidInput, MessageTooBig, PostroomError, StorageUnavailable
from postroom.features.subaccounts.quota import QuotaExceeded
from postroom.smtp import replies
from postroom.smtp.errors import reply_for


def test_a_message_over_the_limit_is_552_with_the_advertised_size() -> None:
    assert reply_for(MessageTooBig(50_000_000), 2000) == replies.TOO_BIG.format(limit=2000)


def test_an_unreadable_message_is_554_with_its_reason_even_when_the_reason_mentions_a_limit() -> None:
    error = InvalidInput("body", "The header is larger than the limit of 998 characters")
    assert reply_for(error, 2000) == replies.BAD_MESSAGE.format(reason=error.message)


def test_an_exhausted_quota_refuses_the_sender_with_the_quota_phrase() -> None:
    quota = "the monthly email quota of 2 emails is exhausted (2 sent this month)"
    assert reply_for(QuotaExceeded(2, 2), 2000) == f"550 5.7.1 Sender not allowed: {quota}"


def test_storage_trouble_is_a_temporary_451_and_anything_else_an_internal_451() -> None:
    assert reply_for(StorageUnavailable("database is locked"), 2000) == replies.STORAGE_UNAVAILABLE
    assert reply_for(PostroomError("something unforeseen"), 2000) == replies.INTERNAL
    assert replies.INTERNAL.startswith("451 4.")
