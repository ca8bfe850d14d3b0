"""SMTP users: the credentials SMTP clients log in with, and their sending settings (reference §7.10)."""
