"""Feedback coming back: bounces (RFC 3464 DSNs) and complaints (RFC 5965 ARF) sent to the return path."""
