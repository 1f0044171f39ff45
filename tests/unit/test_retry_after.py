"""A 429's Retry-After, in both forms HTTP allows, and capped (issue 41, item 9)."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from earwig.sources.errors import MAX_RETRY_AFTER, RateLimited, classify_http, retry_after_seconds

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("86400", MAX_RETRY_AFTER),  # a day was honoured whole: now an hour at most
        (formatdate(NOW + 90, usegmt=True), 90.0),
        (formatdate(NOW + 90, usegmt=True).replace("GMT", ""), 90.0),  # no zone: GMT
        (formatdate(NOW - 500, usegmt=True), 0.0),  # in the past: no wait
        (formatdate(NOW + 10**6, usegmt=True), MAX_RETRY_AFTER),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_a_date(header: str | None, seconds: float | None) -> None:
    got = retry_after_seconds(header, now=NOW)
    assert got == (pytest.approx(seconds, abs=1) if seconds is not None else None)


def test_a_429_carries_its_capped_wait() -> None:
    error = classify_http(429, "feed", "86400")
    assert isinstance(error, RateLimited) and error.retry_after == MAX_RETRY_AFTER
