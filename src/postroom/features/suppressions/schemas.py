"""Request and response shapes of /suppression/add|view|remove (reference §7.2).

`email_address` takes an address or a domain; the seed's `email` and `domain` are synonyms of it
(decisions.md). Text and list inputs are bounded here so that no request can build an oversized
query: addresses and search strings to 254 characters, lists to 100 values, pages to 1000 entries.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

Text = Annotated[str, Meta(max_length=254)]
Description = Annotated[str, Meta(max_length=1000)]
Values = Annotated[list[Text], Meta(max_length=100)]


class SuppressionAddRequest(Struct):
    email_address: Text = ""
    email: Text = ""  # the seed's synonyms of email_address
    domain: Text = ""
    block_description: Description = ""


class SuppressionAddResult(Struct):
    added: bool
    block_description: str
    email_address: str


class SuppressionViewRequest(Struct):
    email_address: Text = ""
    email: Text = ""
    domain: Text = ""
    recipient: Text = ""
    recipients: Values = []
    fuzzy: bool = False
    wildcard: Text = ""
    start_date: Text = ""
    end_date: Text = ""
    suppression_type: Text = ""
    suppression_types: Values = []
    reason: Text = ""
    reasons: Values = []
    sort: Text = "desc"
    continue_token: Annotated[str, Meta(max_length=200)] = ""
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100  # Postroom's addition: the page size


class SuppressionItem(Struct):
    block_description: str
    complaint: str
    email_address: str
    reason: str  # the suppression type: manual, bounce, spam, unsubscribe or compliance
    subject: str | None
    timestamp: str  # "2022-11-14 07:54:45", UTC


class SuppressionViewResult(Struct):
    results: list[SuppressionItem]
    continue_token: str | None
    total_results: int


class SuppressionRemoveRequest(Struct):
    email_address: Text = ""
    email: Text = ""
    domain: Text = ""
    reasons: Values = []


class SuppressionRemoved(Struct):
    email_address: str
    reason: str
    removed: bool


class SuppressionRemoveResult(Struct):
    suppressions: list[SuppressionRemoved]
