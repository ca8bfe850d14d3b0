"""The event log: the single source of truth of what happened to each message."""
