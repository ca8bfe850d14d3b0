"""Allowed senders and allowed recipients: per-account lists that restrict who may send and receive."""
