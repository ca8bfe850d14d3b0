"""Postroom: a self-hosted email delivery server that speaks the SMTP2GO API v3."""

__version__ = "0.1.0"
