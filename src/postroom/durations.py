"""Durations as settings write them: '90s', '5m', '2h', '5d' or bare seconds."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'90s', '5m', '2h', '5d' (or bare seconds) → seconds; ValueError on anything else."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 2h or 5d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
