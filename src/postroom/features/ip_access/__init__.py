"""IP access: IP authentication (SMTP without AUTH) and the IP allow lists (reference §7.11, §7.12)."""
