"""Event names: the activity tokens stored in `events` and the webhook names they are posted as."""

from __future__ import annotations

# activity token -> webhook event name (decisions.md: Event names)
WEBHOOK_EVENT = {
    "processed": "processed",
    "delivered": "delivered",
    "soft-bounced": "bounce",
    "hard-bounced": "bounce",
    "rejected": "reject",
    "spam": "spam",
    "unsubscribed": "unsubscribe",
    "resubscribed": "resubscribe",
    "opened": "open",
    "clicked": "click",
}
EMAIL_EVENTS = (
    "processed",
    "delivered",
    "bounce",
    "spam",
    "unsubscribe",
    "resubscribe",
    "open",
    "click",
    "reject",
)
SMS_EVENTS = ("sending", "submitted", "delivered", "failed", "rejected", "opt-out")
