"""Identifiers look like SMTP2GO's and do not collide."""

from __future__ import annotations

import re

from postroom.ids import new_api_key, new_email_id


def test_email_id_shape_and_uniqueness() -> None:
    ids = {new_email_id() for _ in range(20000)}
    assert len(ids) == 20000
    assert all(re.fullmatch(r"[0-9A-Za-z]{6}-[0-9A-Za-z]{12}-[0-9A-Za-z]{4}", i) for i in ids)


def test_email_ids_sort_by_time_prefix() -> None:
    assert new_email_id()[:6] <= new_email_id()[:6]


def test_api_key_shape() -> None:
    assert re.fullmatch(r"api-[0-9A-F]{32}", new_api_key())
