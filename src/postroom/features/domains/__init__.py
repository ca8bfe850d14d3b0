"""Sender domains: the domains an account sends from, each with the DKIM key its mail is signed with."""
