"""Suppressions: recipients that mail is no longer sent to (bounces, spam complaints, manual entries)."""
