"""/suppression/add|view|remove through a real server: SMTP2GO's shapes (reference §7.2), the view
filters and pages, the seed's synonyms, per-tenant lists, and bad input answered with a 400/402."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from conftest import RunningServer
from envelope_checks import error, invalid, ok
from postroom.clock import utcnow
from postroom.features.api_keys import repo as keys_repo
from postroom.features.suppressions import repo as suppressions_repo
from postroom.storage.tables import suppressions

BAD_ENTRIES = [
    "not an address",
    "a@@example.com",
    "a@",
    "@",
    "*.example.com",  # a domain entry covers its subdomains already
    "exa mple.com",
    "x" * 300 + ".com",
    "a@" + "b" * 250 + ".com",
    "localhost",
    "192.0.2.1",
    "a@exam\x00ple.com",
    "ex_ample.com",
]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _add(server: RunningServer, address: str, key: str = "default", **fields: Any) -> Any:
    return ok(server.post("suppression/add", {"email_address": address, **fields}, key=key))


def _view(server: RunningServer, key: str = "default", **fields: Any) -> Any:
    return ok(server.post("suppression/view", fields, key=key))


def _listed(server: RunningServer, key: str = "default", **fields: Any) -> list[str]:
    return [r["email_address"] for r in _view(server, key, **fields)["results"]]


def _rows(server: RunningServer) -> int:
    db = server.app.state.services.db
    n: int = db.read_sync(lambda c: c.execute(select(func.count()).select_from(suppressions)).scalar_one())
    return n


def _feedback_entry(
    server: RunningServer, address: str, kind: str, reason: str, email_id: str | None
) -> None:
    """An entry as the delivery queue and the feedback service record a hard bounce or complaint."""

    def add(conn: Any) -> None:
        account = keys_repo.master_account_id(conn)
        assert account is not None
        suppressions_repo.add_many(
            conn, [suppressions_repo.row(account, address, kind, reason, email_id, utcnow())]
        )

    server.app.state.services.db.write_sync(add)


def test_add_view_remove_in_smtp2gos_shapes(server: RunningServer) -> None:
    added = _add(server, "Temp@Example.com", block_description="No longer a customer.")
    assert added == {
        "added": True,
        "block_description": "No longer a customer.",
        "email_address": "temp@example.com",
    }
    data = _view(server)
    assert data["continue_token"] is None and data["total_results"] == 1
    [item] = data["results"]
    assert TIMESTAMP.fullmatch(item.pop("timestamp"))
    assert item == {
        "block_description": "No longer a customer.",
        "complaint": "",
        "email_address": "temp@example.com",
        "reason": "manual",
        "subject": None,
    }
    removed = ok(
        server.post(
            "suppression/remove", {"email_address": "temp@example.com", "reasons": ["manual", "spam"]}
        )
    )
    assert removed == {
        "suppressions": [
            {"email_address": "temp@example.com", "reason": "manual", "removed": True},
            {"email_address": "temp@example.com", "reason": "spam", "removed": False},
        ]
    }
    assert _view(server) == {"results": [], "continue_token": None, "total_results": 0}


def test_the_seeds_email_and_domain_are_synonyms_of_email_address(server: RunningServer) -> None:
    assert ok(server.post("suppression/add", {"email": "a@example.com"}))["email_address"] == "a@example.com"
    assert (
        ok(server.post("suppression/add", {"domain": "@Blocked.Example"}))["email_address"]
        == "blocked.example"
    )
    assert sorted(_listed(server)) == ["a@example.com", "blocked.example"]
    gone = ok(server.post("suppression/remove", {"domain": "blocked.example", "reasons": ["manual"]}))
    assert gone["suppressions"] == [{"email_address": "blocked.example", "reason": "manual", "removed": True}]
    both = server.post("suppression/add", {"email_address": "a@example.com", "email": "b@example.com"})
    invalid(both, "email_address")


def test_adding_an_entry_twice_is_a_402_and_keeps_the_first(server: RunningServer) -> None:
    _add(server, "a@example.com", block_description="first")
    data = error(
        server.post("suppression/add", {"email_address": "A@example.com", "block_description": "2"}), 402
    )
    assert "already" in data["error"]
    assert [r["block_description"] for r in _view(server)["results"]] == ["first"]


def test_feedback_entries_show_their_type_complaint_and_subject_and_are_removed_by_reason(
    server: RunningServer,
) -> None:
    email_id = server.send(subject="Spring sale", to=["gone@example.org"])
    _feedback_entry(server, "gone@example.org", "bounce", "550 5.1.1 no such user", email_id)
    _feedback_entry(server, "gone@example.org", "spam", "abuse report from mx.example", email_id)
    _add(server, "gone@example.org")
    items = {r["reason"]: r for r in _view(server)["results"]}
    assert set(items) == {"bounce", "spam", "manual"}
    assert (items["bounce"]["complaint"], items["bounce"]["subject"]) == (
        "550 5.1.1 no such user",
        "Spring sale",
    )
    assert items["spam"]["complaint"] == "abuse report from mx.example"
    assert _listed(server, suppression_type="bounce") == ["gone@example.org"]
    assert sorted(r["reason"] for r in _view(server, reasons=["spam", "manual"])["results"]) == [
        "manual",
        "spam",
    ]
    result = ok(
        server.post(
            "suppression/remove", {"email_address": "gone@example.org", "reasons": ["bounce", "spam"]}
        )
    )
    assert [(s["reason"], s["removed"]) for s in result["suppressions"]] == [("bounce", True), ("spam", True)]
    assert [r["reason"] for r in _view(server)["results"]] == ["manual"]


def test_view_by_address_finds_the_entries_that_suppress_it(server: RunningServer) -> None:
    for entry in ("a@mail.example.com", "example.com", "other.example", "b@example.com"):
        _add(server, entry)
    assert sorted(_listed(server, email_address="A@Mail.Example.com")) == [
        "a@mail.example.com",
        "example.com",
    ]
    assert _listed(server, email_address="example.com") == ["example.com"]
    assert sorted(_listed(server, recipients=["b@example.com", "x@other.example"])) == [
        "b@example.com",
        "example.com",
        "other.example",
    ]
    assert _listed(server, email_address="nobody@elsewhere.example") == []


def test_fuzzy_and_wildcard_match_parts_of_entries(server: RunningServer) -> None:
    for entry in ("ann@shop.example", "bob@shop.example", "ann_x@else.example", "annex.example"):
        _add(server, entry)
    assert sorted(_listed(server, email_address="ANN", fuzzy=True)) == [
        "ann@shop.example",
        "ann_x@else.example",
        "annex.example",
    ]
    assert sorted(_listed(server, wildcard="shop")) == ["ann@shop.example", "bob@shop.example"]
    assert _listed(server, wildcard="ann*shop") == ["ann@shop.example"]
    assert _listed(server, wildcard="ann_") == ["ann_x@else.example"]  # `_` and `%` are literal
    assert _listed(server, wildcard="%") == []


def test_dates_sort_and_pages(server: RunningServer) -> None:
    for i in range(5):
        _add(server, f"r{i}@example.com")
    old = utcnow() - timedelta(days=40)
    server.app.state.services.db.write_sync(
        lambda c: c.execute(
            update(suppressions)
            .where(suppressions.c.email_address == "r0@example.com")
            .values(created_at=old)
        )
    )
    assert _listed(server)[0] == "r4@example.com" and _listed(server)[-1] == "r0@example.com"
    assert _listed(server, sort="ASC")[0] == "r0@example.com"
    assert _listed(server, end_date=f"{old:%Y-%m-%d}") == ["r0@example.com"]
    assert "r0@example.com" not in _listed(server, start_date=f"{utcnow():%Y-%m-%d}")
    stamp = _view(server, email_address="r0@example.com")["results"][0]["timestamp"]
    assert _listed(server, start_date=stamp, end_date=stamp) == ["r0@example.com"]  # to the second
    seen: list[str] = []
    token = None
    while True:
        page = _view(server, limit=2, sort="asc", **({"continue_token": token} if token else {}))
        assert page["total_results"] == 5 and len(page["results"]) <= 2
        seen += [r["email_address"] for r in page["results"]]
        token = page["continue_token"]
        if token is None:
            break
    assert seen == [f"r{i}@example.com" for i in range(5)]


def test_each_account_sees_and_changes_only_its_own_list(server: RunningServer) -> None:
    sub = ok(server.post("subaccount/add", {"fullname": "Team"}))["id"]
    _add(server, "master-only@example.com")
    _add(server, "team-only@example.com", subaccount_id=sub)
    assert _listed(server) == ["master-only@example.com"]
    assert _listed(server, subaccount_id=sub) == ["team-only@example.com"]
    other = server.account_key()
    assert _listed(server, key=other) == []
    result = ok(
        server.post(
            "suppression/remove",
            {"email_address": "master-only@example.com", "reasons": ["manual"]},
            key=other,
        )
    )
    assert result["suppressions"][0]["removed"] is False
    assert _listed(server) == ["master-only@example.com"]
    # each list applies to its own account's mail only
    message = {"sender": "s@example.com", "subject": "s", "text_body": "x"}
    refused = ok(
        server.post("email/send", {**message, "to": ["team-only@example.com"], "subaccount_id": sub})
    )
    assert (refused["succeeded"], refused["email_id"]) == (0, "")
    assert ok(server.post("email/send", {**message, "to": ["team-only@example.com"]}))["succeeded"] == 1
    assert (
        ok(server.post("email/send", {**message, "to": ["master-only@example.com"], "subaccount_id": sub}))[
            "succeeded"
        ]
        == 1
    )


def test_malformed_addresses_and_domains_are_400s_and_store_nothing(server: RunningServer) -> None:
    for bad in BAD_ENTRIES:
        invalid(server.post("suppression/add", {"email_address": bad}), "email_address")
        invalid(
            server.post("suppression/remove", {"email_address": bad, "reasons": ["manual"]}), "email_address"
        )
    invalid(server.post("suppression/add", {}), "email_address")
    invalid(server.post("suppression/add", {"email_address": 5}), "email_address")
    long_description = {"email_address": "a@example.com", "block_description": "x" * 1001}
    invalid(server.post("suppression/add", long_description), "block_description")
    nul = {
        "email_address": "a@example.com",
        "block_description": "no\x00pe",
    }  # PostgreSQL cannot store U+0000
    invalid(server.post("suppression/add", nul), "block_description")
    invalid(server.post("suppression/view", {"email_address": "not an address"}), "email_address")
    invalid(server.post("suppression/view", {"recipients": ["a@example.com", "a@"]}), "recipients")
    assert _rows(server) == 0


def test_unknown_or_missing_reasons_are_400s_and_remove_nothing(server: RunningServer) -> None:
    _add(server, "a@example.com")
    body = {"email_address": "a@example.com", "reasons": ["manual", "nonsense"]}
    invalid(server.post("suppression/remove", body), "reasons")
    invalid(server.post("suppression/remove", {"email_address": "a@example.com"}), "reasons")
    invalid(
        server.post("suppression/remove", {"email_address": "a@example.com", "reasons": "manual"}), "reasons"
    )
    invalid(server.post("suppression/view", {"reasons": ["nonsense"]}), "reasons")
    invalid(server.post("suppression/view", {"suppression_type": "everything"}), "suppression_type")
    assert _listed(server) == ["a@example.com"]


def test_bad_dates_sort_tokens_and_oversized_filters_are_400s(server: RunningServer) -> None:
    _add(server, "a@example.com")
    invalid(server.post("suppression/view", {"start_date": "yesterday"}), "start_date")
    invalid(server.post("suppression/view", {"end_date": "2026-13-45"}), "end_date")
    invalid(
        server.post("suppression/view", {"start_date": "2026-12-04", "end_date": "2026-12-01"}), "end_date"
    )
    invalid(server.post("suppression/view", {"sort": "sideways"}), "sort")
    invalid(server.post("suppression/view", {"continue_token": "not-a-token"}), "continue_token")
    invalid(server.post("suppression/view", {"continue_token": "WzEsMl0"}), "continue_token")  # [1,2]
    invalid(server.post("suppression/view", {"limit": 0}), "limit")
    invalid(server.post("suppression/view", {"limit": 100000}), "limit")
    invalid(server.post("suppression/view", {"wildcard": "a" * 60000}), "wildcard")
    invalid(server.post("suppression/view", {"email_address": "a" * 60000, "fuzzy": True}), "email_address")
    invalid(server.post("suppression/view", {"recipients": ["a@example.com"] * 101}), "recipients")
    invalid(server.post("suppression/view", {"wildcard": "a\x00"}), "wildcard")
    invalid(server.post("suppression/view", {"recipient": "a\x00", "fuzzy": True}), "recipient")
    assert _view(server, fuzzy=True, email_address="%" * 254)["total_results"] == 0  # literal, not a pattern


def test_concurrent_adds_of_one_entry_store_it_once(server: RunningServer) -> None:
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: server.post("suppression/add", {"email_address": "race.example"}), range(8))
        )
    assert sorted(r.status_code for r in answers) == [200] + [402] * 7
    assert _rows(server) == 1
