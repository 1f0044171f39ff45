"""Durations, dates and ages as people write them: one parser for the config, the CLI and the
daemon's requests ("90", "10m", "6h", "7d"; "2026-11-01"; "7d" ago)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> float:
    """'90', 90, '2s', '10m', '6h', '7d', '2w' -> seconds; ValueError says what is expected."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", value)
        if m:
            return float(m.group(1)) * _UNITS[m.group(2) or "s"]
    raise ValueError('a duration such as "30s", "10m", "6h" or "7d"')


def parse_date(value: Any) -> float:
    """A date or date-time (TOML's own, or '2026-01-31' / '2026-01-31T08:00') -> a timestamp."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip()).timestamp()
        except ValueError:
            pass
    raise ValueError("a date such as 2026-01-31")


def parse_since(value: str, now: float | None = None) -> float:
    """'2026-11-01', or an age ('7d', '12h', '30m', '2w') counted back from now -> a timestamp."""
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?\s*[smhdw]", text):
        return (dt.datetime.now().timestamp() if now is None else now) - parse_duration(text)
    try:
        return parse_date(text)
    except ValueError:
        raise ValueError("a date like 2026-11-01, or an age like 7d") from None
