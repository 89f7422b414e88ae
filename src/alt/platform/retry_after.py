"""The one Retry-After parser: seconds to wait, from whatever a server sent.

RFC 9110 §10.2.3: the value is delay-seconds (ASCII digits only: `str.isdigit` also accepts
'²' and '٣', which `int` then refuses or reads) or an HTTP-date. A date in the past means
"now" (0 s); every wait is capped; anything else (negative, fractional, exponent, garbage) is
ignored (None). It never raises, whatever the header holds.
"""

from __future__ import annotations

import email.utils
import string
from datetime import UTC, datetime

MAX_DATE_CHARS = 64
"""A longer value that is not digits is no HTTP-date: ignored without parsing."""
_ASCII_DIGITS = frozenset(string.digits)
_OWS = " \t"


def parse_retry_after(value: str | None, cap_s: float, now: datetime | None = None) -> float | None:
    """Seconds from `now` that Retry-After `value` asks for, at most `cap_s`; None if unusable."""
    if value is None:
        return None
    text = value.strip(_OWS)
    if not text:
        return None
    if _ASCII_DIGITS.issuperset(text):
        return min(float(text), cap_s)  # float, not int: any length, at worst inf
    if len(text) > MAX_DATE_CHARS:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:  # "-0000": UTC, origin unknown
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(seconds, 0.0), cap_s)
