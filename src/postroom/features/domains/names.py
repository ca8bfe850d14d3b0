"""Domain names as sender domains store them: checked, lower case, IDNA A-labels; and their parts.

A name is stored in A-label form ("bücher.example" → "xn--bcher-kva.example"), mapped by the `idna`
package (IDNA 2008 with the UTS #46 mapping, as browsers and dnspython do), so "Faß.example" is
"xn--fa-hia.example" and never the IDNA 2003 "fass.example". Names already in ASCII skip the
mapping unless they hold an A-label, which is then checked to decode.
"""

from __future__ import annotations

import re

import idna

from postroom.errors import InvalidInput

MAX_DOMAIN = 253  # RFC 1035 §2.3.4, in presentation form without the final dot
MAX_SUBDOMAIN = 63  # the column's width; one label is at most 63 octets anyway (RFC 1035 §2.3.4)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # RFC 1123 §2.1 host name label


def _a_labels(value: str) -> str:
    """Lower case, no final dot, IDNA A-labels; UnicodeError (IDNAError is one) when it cannot be."""
    name = value.strip().lower()
    name = name[:-1] if name.endswith(".") else name
    if name.isascii() and "xn--" not in name:
        return name
    return idna.encode(name, uts46=True).decode("ascii")


def _checked(value: str, field: str, min_labels: int) -> str:
    invalid = InvalidInput(field, f"'{value}' is not a valid domain name")
    try:
        name = _a_labels(value)
    except UnicodeError:
        raise invalid from None
    labels = name.split(".")
    if len(name) > MAX_DOMAIN or len(labels) < min_labels:
        raise invalid
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise invalid
    return name


def normalize_domain(value: str, field: str = "domain") -> str:
    """The stored form of a domain name; raises InvalidInput (naming `field`) when it is not one."""
    name = _checked(value, field, min_labels=2)
    if name.rsplit(".", 1)[-1].isdigit():  # a numeric top-level label: an IPv4 address, not a name
        raise InvalidInput(field, f"'{value}' is not a valid domain name")
    return name


def normalize_subdomain(value: str, field: str) -> str:
    """The stored form of a tracking or return-path subdomain ("link", "t.mail"); raises InvalidInput."""
    name = _checked(value, field, min_labels=1)
    if len(name) > MAX_SUBDOMAIN:
        raise InvalidInput(field, f"The field '{field}' takes at most {MAX_SUBDOMAIN} characters")
    return name


def split_domain(fulldomain: str) -> tuple[str, str, str]:
    """(subdomain, domain, suffix) by a heuristic: the last label, the one before it, and the rest.

    Without a public suffix list this is right for "mail.example.com" ("mail", "example", "com")
    but not for names under multi-label suffixes: "example.co.uk" gives ("example", "co", "uk").
    It only fills the descriptive fields of the domain object; no rule depends on it.
    """
    labels = fulldomain.split(".")
    suffix = labels[-1]
    domain = labels[-2] if len(labels) > 1 else ""
    return ".".join(labels[:-2]), domain, suffix


def lookup_name(domain: str) -> str:
    """A sender's domain in stored form for a lookup, or "" when it cannot be one."""
    name = domain.strip().strip("[]<>")
    try:
        return _a_labels(name)
    except UnicodeError:
        return ""
