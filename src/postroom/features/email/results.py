"""The answers of the send endpoints: stored, partly refused or refused messages, batch items."""

from __future__ import annotations

import logging

from postroom.errors import PostroomError
from postroom.features.email import repo
from postroom.features.email.schemas import BatchItemError, FastAcceptResult, SendResult

log = logging.getLogger(__name__)


def _refusals(accepted: repo.Accepted) -> list[str]:
    suppressed = [f"{r} is on the suppression list and was not sent to" for r in accepted.refused]
    return [*accepted.failures, *suppressed]


def send_result(accepted: repo.Accepted, fastaccept: bool) -> SendResult | FastAcceptResult:
    """The answer of decisions.md: every recipient refused → failed, no email_id; some → listed."""
    if accepted.all_refused:
        return SendResult(0, 1, _refusals(accepted), "")
    extra = {"schedule_id": accepted.schedule_id} if accepted.schedule_id else {}
    if fastaccept:
        return FastAcceptResult(accepted.email_id, **extra)
    return SendResult(1, 0, _refusals(accepted), accepted.email_id, **extra)


def batch_result(outcome: repo.Accepted | BaseException) -> SendResult | BatchItemError:
    """One stored item's answer: its email_id, or its storage failure reported in its place."""
    if isinstance(outcome, repo.Accepted):
        result = send_result(outcome, False)
        assert isinstance(result, SendResult)
        return result
    if isinstance(outcome, PostroomError):
        return batch_error(outcome)
    if not isinstance(outcome, Exception):  # cancellation and the like are not one item's failure
        raise outcome
    log.error("storing a batch item failed", exc_info=outcome)
    return batch_error(PostroomError("An unexpected error occurred storing this email; see the server log"))


def batch_error(exc: PostroomError) -> BatchItemError:
    data = exc.data()
    return BatchItemError(
        succeeded=0,
        failed=1,
        failures=[exc.message],
        email_id="",
        error=data["error"],
        error_code=data["error_code"],
        field_validation_errors=data.get("field_validation_errors", {}),
    )
