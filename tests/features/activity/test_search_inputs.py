"""Every search filter that reaches SQL answers any input with a 200 or a 400 field error, never a 500:
long strings (SQLite refused LIKE patterns over 50,000 bytes), LIKE wildcards (matched literally), NUL
characters (PostgreSQL text cannot hold them), odd Unicode, and too many alternatives or list items."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import RunningServer
from postroom.features.activity.match import MAX_ALTERNATIVES, MAX_SEARCH_LENGTH

NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"
HUGE = "x" * 900_000  # under the 1 MiB body limit, far over SQLite's LIKE pattern limit

# (path, the field, how the value goes into the body): every API filter that becomes SQL
API_FILTERS: list[tuple[str, str, Callable[[str], Any]]] = [
    ("activity/search", "search", lambda v: v),
    ("activity/search", "search_subject", lambda v: v),
    ("activity/search", "search_sender", lambda v: v),
    ("activity/search", "search_recipient", lambda v: v),
    ("activity/search", "search_email_id", lambda v: v),
    ("activity/search", "search_usernames", lambda v: [v]),
    ("email/search", "filter_query", lambda v: v),
    ("email/search", "email_id", lambda v: [v]),
    ("api_keys/view", "search", lambda v: v),
    ("email/scheduled/search", "search_subject", lambda v: v),
    ("email/scheduled/search", "search_sender", lambda v: v),
    ("email/scheduled/search", "search_recipient", lambda v: v),
    ("email/scheduled/search", "schedule_id", lambda v: v),
]
CAPTURE_FILTERS = ["subject", "to", "from"]


@pytest.fixture
def quiet(make_server: Callable[..., RunningServer]) -> RunningServer:
    """A server without the per-key endpoint limits (these tests make many searches)."""
    return make_server(endpoint_rate_limits=False)


def _field_error(r: httpx.Response, field: str) -> str:
    assert r.status_code == 400, r.text[:300]
    data = r.json()["data"]
    assert data["error_code"] == NON_VALIDATING
    assert data["field_validation_errors"]["fieldname"] == field, data
    message: str = data["field_validation_errors"]["message"]
    return message


def _capture(server: RunningServer, **params: str) -> httpx.Response:
    with server.client() as c:
        return c.get("/api/v1/messages", params=params, headers={"X-Smtp2go-Api-Key": server.key})


def test_a_900_kb_search_string_is_a_400_naming_the_field(quiet: RunningServer) -> None:
    for path, field, shape in API_FILTERS:
        r = quiet.post(path, {field: shape(HUGE)})
        assert str(MAX_SEARCH_LENGTH) in _field_error(r, field), (path, field)


def test_capture_api_filters_refuse_overlong_values(quiet: RunningServer) -> None:
    for field in CAPTURE_FILTERS:
        r = _capture(quiet, **{field: "y" * (MAX_SEARCH_LENGTH + 1)})
        assert r.status_code == 400, (field, r.text[:200])
        assert r.json()["data"]["field_validation_errors"]["fieldname"] == field


def test_the_longest_allowed_search_string_is_answered(quiet: RunningServer) -> None:
    long_subject = "é" + "q" * (MAX_SEARCH_LENGTH - 1)
    email_id = quiet.send(subject=long_subject)
    quiet.wait_for_events(email_id, 2)
    for path, field, shape in API_FILTERS:
        r = quiet.post(path, {field: shape("é" * MAX_SEARCH_LENGTH)})
        assert r.status_code == 200, (path, field, r.text[:300])
    found = quiet.post("activity/search", {"search_subject": long_subject.upper()}).json()["data"]["events"]
    assert {e["email_id"] for e in found} == {email_id}
    for field in CAPTURE_FILTERS:
        assert _capture(quiet, **{field: "q" * MAX_SEARCH_LENGTH}).status_code == 200


def test_nul_characters_are_a_400_on_every_filter(quiet: RunningServer) -> None:
    for path, field, shape in API_FILTERS:
        _field_error(quiet.post(path, {field: shape("a\x00b")}), field)
    for field in CAPTURE_FILTERS:
        assert _capture(quiet, **{field: "a\x00b"}).status_code == 400


def test_too_many_alternatives_or_terms_are_a_400(quiet: RunningServer) -> None:
    many = " | ".join(f"w{i}" for i in range(MAX_ALTERNATIVES + 1))
    _field_error(quiet.post("activity/search", {"search": many}), "search")
    terms = " ".join(f"subject:w{i}" for i in range(MAX_ALTERNATIVES + 1))
    _field_error(quiet.post("email/search", {"filter_query": terms}), "filter_query")
    _field_error(quiet.post("email/search", {"email_id": ["x"] * 5001}), "email_id")
    _field_error(quiet.post("activity/search", {"search_usernames": ["u"] * 101}), "search_usernames")
    fine = " | ".join(f"w{i}" for i in range(MAX_ALTERNATIVES))
    assert quiet.post("activity/search", {"search": fine}).status_code == 200


def _wait_captured(server: RunningServer, ids: list[str]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = {m["email_id"] for m in _capture(server).json()["messages"]}
        if set(ids) <= listed:
            return
        time.sleep(0.05)
    raise AssertionError("messages were not captured")


def test_like_wildcards_and_odd_unicode_match_literally(quiet: RunningServer) -> None:
    subjects = [
        "50% off",
        "50X off",
        "a_b c",
        "aXb c",
        "back\\slash",
        "backXslash",
        "emoji 📬 inbox",
        "zero\u200bwidth",
        "e\u0301 combining",
        "ΟΔΟΣ street",
    ]
    ids = {s: quiet.send(subject=s, sender=f"x{i}@example.com") for i, s in enumerate(subjects)}
    _wait_captured(quiet, list(ids.values()))
    for needle, expected in [
        ("50%", ["50% off"]),
        ("%", ["50% off"]),
        ("a_b", ["a_b c"]),
        ("_", ["a_b c"]),
        ("k\\s", ["back\\slash"]),
        ("📬", ["emoji 📬 inbox"]),
        ("\u200b", ["zero\u200bwidth"]),
        ("e\u0301", ["e\u0301 combining"]),
        ("οδοσ", ["ΟΔΟΣ street"]),  # a capital sigma folds to small sigma wherever it stands
        ("\U0010ffff", []),
    ]:
        want = {ids[s] for s in expected}
        activity = quiet.post("activity/search", {"search_subject": needle}).json()["data"]["events"]
        assert {e["email_id"] for e in activity} == want, needle
        anywhere = quiet.post("activity/search", {"search": needle}).json()["data"]["events"]
        assert {e["email_id"] for e in anywhere} == want, needle
        emails = quiet.post("email/search", {"filter_query": f'subject:"{needle}"'}).json()["data"]["emails"]
        assert {e["email_id"] for e in emails} == want, needle
        captured = _capture(quiet, subject=needle).json()["messages"]
        assert {m["email_id"] for m in captured} == want, needle


def test_api_key_and_scheduled_searches_match_wildcards_literally(quiet: RunningServer) -> None:
    for description in ("100% sure", "100X sure"):
        r = quiet.post("api_keys/add", {"description": description, "endpoints": ["*"]})
        assert r.status_code == 200, r.text
    keys = quiet.post("api_keys/view", {"search": "0%"}).json()["data"]
    assert [k["description"] for k in keys] == ["100% sure"]
    when = int(time.time()) + 3600
    for subject in ("later_one", "laterXone"):
        r = quiet.post("email/send", {**_body(subject), "schedule": when})
        assert r.json()["data"]["succeeded"] == 1, r.text
    listed = quiet.post("email/scheduled/search", {"search_subject": "r_o"}).json()["data"]
    assert [i["subject"] for i in listed] == ["later_one"]


def _body(subject: str) -> dict[str, Any]:
    return {"sender": "s@example.com", "to": ["t@example.com"], "subject": subject, "text_body": "x"}


def test_a_needle_with_many_distinct_letters_still_folds_case(quiet: RunningServer) -> None:
    """Past MAX_REPLACES forms SQLite folds with postroom_fold() (no expression nests too deep); the
    answer is the same as for a short needle, on every backend."""
    letters = "".join(chr(c) for c in range(0x3B1, 0x3C9) if c != 0x3C2) + "абвгдежзийклмнопрстуфхцчшщ"
    subject = "Mixed " + letters.upper()
    email_id = quiet.send(subject=subject)
    quiet.wait_for_events(email_id, 2)
    for needle in (letters, letters[:3], "MIXED " + letters[:2].upper()):
        events = quiet.post("activity/search", {"search_subject": needle}).json()["data"]["events"]
        assert {e["email_id"] for e in events} == {email_id}, needle
        captured = _capture(quiet, subject=needle).json()["messages"]
        assert [m["email_id"] for m in captured] == [email_id], needle
    assert quiet.post("activity/search", {"search_subject": letters + "ё"}).json()["data"]["events"] == []
