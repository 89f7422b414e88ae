"""The one Retry-After parser (alt.platform.retry_after), used by the egress client and by the
summary engines and client: delay-seconds in ASCII digits, HTTP-dates, a cap, and no exception
for any value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alt.platform.retry_after import parse_retry_after

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CAP = 300.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 5 ", 5.0),
        ("\t5", 5.0),
        ("0", 0.0),
        ("0007", 7.0),
        ("300", 300.0),
        ("301", CAP),  # capped
        ("86400", CAP),
        ("9" * 20, CAP),  # huge
        ("9" * 5_000, CAP),  # beyond int()'s 4,300 digits
        ("Thu, 01 Jan 2026 00:01:00 GMT", 60.0),  # a date in the future
        ("Thursday, 01-Jan-26 00:02:00 GMT", 120.0),  # RFC 850, obsolete but allowed
        ("Thu Jan  1 00:02:00 2026", 120.0),  # asctime
        ("Thu, 01 Jan 2026 00:00:30 -0000", 30.0),
        ("Sat, 01 Jan 2028 00:00:00 GMT", CAP),  # far future: capped
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: now
        ("²", None),  # str.isdigit() says yes; not delay-seconds
        ("٣", None),  # Arabic-Indic three: int() would read 3
        ("١٢", None),
        ("\uff15", None),  # fullwidth five
        ("", None),
        ("   ", None),
        (None, None),
        ("-1", None),
        ("+5", None),
        ("1e3", None),
        ("1.5", None),
        ("5 s", None),
        ("\u00a05", None),  # no-break space is not HTTP whitespace
        ("banana", None),
        ("Thu, 01 Jan 99999 00:00:00 GMT", None),  # year out of range
        ("Mon, 99 Jan 2020 00:00:00 GMT", None),
        ("01 Jan 2026 00:00:00 +99999999999999999999", None),  # OverflowError inside email
        ("Thu, 01 Jan 2026 00:00:00 GMT" + " " * 100 + "x", None),
        ("\x00", None),
    ],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, CAP, NOW) == expected


@given(st.text(max_size=80))
def test_retry_after_never_raises(value: str) -> None:
    seconds = parse_retry_after(value, CAP, NOW)
    assert seconds is None or 0.0 <= seconds <= CAP


# LLM-06: Retry-After is capped.
@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_retry_after_numbers(number: int) -> None:
    expected = None if number < 0 else min(float(number), CAP)
    assert parse_retry_after(str(number), CAP, NOW) == expected
