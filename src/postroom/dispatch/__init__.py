"""Webhook dispatch: the outbox written with the events, and the worker that posts it, in order, retried."""
