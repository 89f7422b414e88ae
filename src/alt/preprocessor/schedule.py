"""When to check a feed next: the publisher's hints (TTL, Cache-Control, Retry-After) within our
bounds, exponential backoff with jitter after failures."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from alt.preprocessor.settings import IngestSettings

JITTER = 0.1
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d{1,10})", re.IGNORECASE)


def cache_max_age_s(headers: Mapping[str, str]) -> int | None:
    value = headers.get("cache-control")
    if not value or "no-store" in value.lower():
        return None
    match = _MAX_AGE.search(value)
    return int(match.group(1)) if match else None


def _jittered(seconds: float, cap_s: float) -> timedelta:
    """Up to 10 % later, so feeds checked together drift apart; never past the cap."""
    stretched = seconds * (1 + JITTER * random.random())  # noqa: S311 - spread, not a secret
    return timedelta(seconds=min(stretched, cap_s))


def after_success(
    now: datetime, policy: IngestSettings, *, ttl_s: int | None, max_age_s: int | None
) -> datetime:
    """Never more often than the publisher asks (TTL, max-age), never less than daily."""
    interval = max(policy.interval_s, ttl_s or 0, max_age_s or 0)
    interval = min(max(interval, policy.min_interval_s), policy.max_interval_s)
    return now + _jittered(interval, policy.max_interval_s)


def after_failure(
    now: datetime, policy: IngestSettings, *, error_count: int, retry_after_s: float | None
) -> datetime:
    """`error_count` counts this failure too. A usable Retry-After wins, capped at the maximum."""
    if retry_after_s is not None and retry_after_s >= 0:
        return now + timedelta(seconds=min(max(retry_after_s, 1.0), policy.max_interval_s))
    backoff = policy.error_backoff_s * 2 ** min(max(error_count - 1, 0), 20)
    return now + _jittered(min(backoff, policy.max_interval_s), policy.max_interval_s)
