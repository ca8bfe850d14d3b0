"""SMTP submission: an aiosmtpd server whose handler feeds the same send pipeline as /v3/email/send."""
