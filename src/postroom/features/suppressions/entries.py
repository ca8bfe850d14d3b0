"""Suppression entries: the stored form of an address or domain, and the keys a recipient is looked up by.

An entry is an address (`a@example.com`) or a whole domain (`example.com`), stored lower case with
the domain in IDNA A-label form. A domain entry suppresses every address at that domain and at
every subdomain of it: `example.com` covers `a@example.com` and `a@mail.example.com`. So a
recipient is suppressed when its address, its domain or any parent domain (of two labels or more)
is an entry; `keys_of` lists those keys and the lookup is one indexed `IN`. `@example.com` and
`*@example.com` are accepted as ways of writing `example.com`; `*.example.com` is refused with a
pointer to `example.com`, which already covers the subdomains.
"""

from __future__ import annotations

import contextlib

from postroom.errors import InvalidInput
from postroom.features.domains.names import lookup_name, normalize_domain
from postroom.mail.addresses import AddressError, parse_address

MAX_ENTRY = 254  # RFC 5321 §4.5.3.1.3: a path of 256 octets holds an address of 254 at most
TYPES = ("manual", "bounce", "spam", "unsubscribe", "compliance")  # reference §7.2
_DOMAIN_PREFIXES = ("*@", "@")


def _invalid(field: str, text: str, reason: str = "") -> InvalidInput:
    shown = text if len(text) <= 80 else text[:80] + "…"
    detail = f" ({reason})" if reason else ""
    expected = "was expecting an email address or a domain name"
    return InvalidInput(field, f"The field '{field}' {expected} but found '{shown}'{detail}")


def normalize(field: str, text: str) -> str:
    """The stored form of an address or domain; raises InvalidInput (naming `field`) otherwise."""
    value = text.strip()
    if len(value) > MAX_ENTRY:
        raise _invalid(field, text, f"longer than {MAX_ENTRY} characters")
    for prefix in _DOMAIN_PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    if "@" in value:
        try:
            return parse_address(value).addr.lower()
        except AddressError as exc:
            raise _invalid(field, text, exc.reason) from None
    if value.startswith("*."):
        raise _invalid(field, text, f"a domain entry covers its subdomains: give '{value[2:]}' itself")
    try:
        return normalize_domain(value, field)
    except InvalidInput:
        raise _invalid(field, text) from None


def is_domain(entry: str) -> bool:
    return "@" not in entry


def _parents(domain: str) -> list[str]:
    """The domain and each parent of two labels or more: `a.b.example.com` → … `example.com`."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]


def _domain_forms(domain: str) -> set[str]:
    """The domain as given (lower case) and in A-label form, by Python's codec and by IDNA 2008."""
    forms = {domain}
    if not domain.isascii():
        with contextlib.suppress(UnicodeError):
            forms.add(domain.encode("idna").decode("ascii"))
        forms.add(lookup_name(domain))
    return {f for f in forms if f}


def keys_of(target: str) -> set[str]:
    """Every entry that suppresses `target` (an address, or a domain): itself and its parent domains."""
    value = target.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at:
        return {p for form in _domain_forms(value) for p in _parents(form)} | {value}
    keys = {value}
    for form in _domain_forms(domain):
        keys.add(f"{local}@{form}")
        keys.update(_parents(form))
    return keys
