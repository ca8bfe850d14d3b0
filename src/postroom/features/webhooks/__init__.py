"""Webhooks (/webhook/*): where an account's events are posted (the posting is postroom.dispatch)."""
