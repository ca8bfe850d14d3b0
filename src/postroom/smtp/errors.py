"""The one map from Postroom's exception tree to SMTP replies (the replies themselves are replies.py's).

The SMTP door turns every PostroomError of the send and feedback paths into a reply here, by its
type and attributes, never by reading its message.
"""

from __future__ import annotations

import logging

from postroom.errors import InvalidInput, MessageTooBig, PostroomError, StorageUnavailable
from postroom.features.subaccounts.quota import QuotaExceeded
from postroom.smtp import replies

log = logging.getLogger(__name__)


def reply_for(error: PostroomError, max_size: int) -> str:
    """The reply for `error`; `max_size` is the SIZE limit the server advertises (RFC 1870)."""
    if isinstance(error, MessageTooBig):
        return replies.TOO_BIG.format(limit=max_size)
    if isinstance(error, InvalidInput):
        return replies.BAD_MESSAGE.format(reason=error.message)
    if isinstance(error, QuotaExceeded):  # the quota filled up since MAIL FROM
        return replies.SENDER_REFUSED.format(reason=error.reason)
    if isinstance(error, StorageUnavailable):
        return replies.STORAGE_UNAVAILABLE
    log.error("SMTP submission failed", exc_info=error)
    return replies.INTERNAL
