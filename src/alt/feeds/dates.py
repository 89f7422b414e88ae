"""Feed dates: RFC 822/1123 (RSS), RFC 3339/ISO 8601 (Atom, JSON Feed, Dublin Core), and the
rules that keep a hostile date from ever being stored.

Parsing is strict on purpose: a date is either understood exactly or it is unknown. Nothing is
rolled over (Feb 30 is not Mar 1), no field is guessed from today, a four-digit year is taken as
written, and offsets beyond ±18 h are refused. Then ``effective_date`` applies the policy of
docs/SECURITY.md (REL-09): unknown or before 1990 -> the fetch time; in the future -> the fetch
time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_MAX_OFFSET = timedelta(hours=18)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
# RFC 822 zones plus the abbreviations feeds really use; anything else unknown counts as UTC.
_ZONES = {
    "ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7,
    "mdt": -6, "pst": -8, "pdt": -7, "akst": -9, "akdt": -8, "hst": -10, "ast": -4, "adt": -3,
    "nzst": 12, "nzdt": 13, "aest": 10, "aedt": 11, "acst": 9.5, "awst": 8, "jst": 9,
    "kst": 9, "hkt": 8, "sgt": 8, "msk": 3, "cet": 1, "cest": 2, "met": 1, "mest": 2,
    "eet": 2, "eest": 3, "wet": 0, "west": 1, "bst": 1,
}  # fmt: skip
_RFC822 = re.compile(
    r"""^\s*(?:[A-Za-z]{2,9}\.?,?\s*)?          # optional day name
    (\d{1,2})[\s-]+([A-Za-z]{3,9})\.?[\s-]+(\d{2,4})  # day month year
    (?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?  # time
    \s*(?:([+-])(\d{2}):?(\d{2})|([A-Za-z]{1,5}))?  # zone
    \s*(?:\([^)]*\))?\s*$""",
    re.VERBOSE,
)
_ISO_LIKE = re.compile(r"^\s*\d{4}-?\d{2}")
_SPACED_ZONE = re.compile(r"(?<=\d)\s+(?:([+-]\d{2}:?\d{2})|UTC|GMT|Z)$", re.IGNORECASE)


def _tz(offset: timedelta) -> timezone | None:
    return timezone(offset) if abs(offset) <= _MAX_OFFSET else None


def _parse_rfc822(value: str) -> datetime | None:
    match = _RFC822.match(value)
    if match is None:
        return None
    day, month_name, year_text, hour, minute, second, sign, oh, om, zone = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    year = int(year_text)
    if len(year_text) == 2:
        year += 2000 if year < 50 else 1900
    elif len(year_text) == 3:
        year += 1900
    if sign:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = _tz(-offset if sign == "-" else offset)
    elif zone:
        tz = timezone(timedelta(hours=_ZONES.get(zone.lower(), 0)))
    else:
        tz = UTC
    if tz is None:
        return None
    try:
        return datetime(
            year, month, int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=tz
        )
    except ValueError:
        return None


def _parse_iso(value: str) -> datetime | None:
    text = value.strip()
    if len(text) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # "2024-01-01 10:00:00 +0100", "2024-01-01T10:00:00 GMT": ISO with a spaced zone.
        text = _SPACED_ZONE.sub(lambda m: m.group(1) or "+00:00", text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    offset = parsed.utcoffset()
    if offset is None or abs(offset) > _MAX_OFFSET:
        return None
    return parsed


def parse_date(value: str | None) -> datetime | None:
    """``value`` as an aware UTC datetime, or None when it is not exactly a date."""
    if not value:
        return None
    value = value.strip()
    if not value or len(value) > 100:
        return None
    parsed = _parse_iso(value) if _ISO_LIKE.match(value) else _parse_rfc822(value)
    if parsed is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 minus an offset, year 9999 plus one
        return None


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def plausible_date(moment: datetime | None, fetched_at: datetime) -> datetime | None:
    """``moment`` if it can be stored as is; None before 1990; the fetch time if in the future."""
    if moment is None or moment < EARLIEST:
        return None
    return min(moment, fetched_at)


def effective_date(moment: datetime | None, fetched_at: datetime) -> datetime:
    """The date to store: ``plausible_date``, with an unknown date replaced by the fetch time."""
    return plausible_date(moment, fetched_at) or fetched_at
