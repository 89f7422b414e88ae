"""When feeds are checked next."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from alt.preprocessor import schedule
from alt.preprocessor.settings import IngestSettings

NOW = datetime(2026, 11, 27, tzinfo=UTC)
POLICY = IngestSettings()


def _wait(at: datetime) -> float:
    return (at - NOW).total_seconds()


def test_the_publishers_hints_slow_us_down_within_bounds() -> None:
    plain = _wait(schedule.after_success(NOW, POLICY, ttl_s=None, max_age_s=None))
    assert POLICY.interval_s <= plain <= POLICY.interval_s * 1.1
    ttl = _wait(schedule.after_success(NOW, POLICY, ttl_s=7200, max_age_s=None))
    assert 7200 <= ttl <= 7920
    cached = _wait(schedule.after_success(NOW, POLICY, ttl_s=None, max_age_s=10**9))
    assert cached == POLICY.max_interval_s
    eager = _wait(schedule.after_success(NOW, POLICY, ttl_s=1, max_age_s=1))
    assert eager >= POLICY.interval_s  # asking for more often does not make us poll faster


def test_cache_control() -> None:
    assert schedule.cache_max_age_s({"cache-control": "public, max-age=900"}) == 900
    assert schedule.cache_max_age_s({"cache-control": "s-maxage=5, max-age=60"}) == 60
    assert schedule.cache_max_age_s({"cache-control": "no-store, max-age=60"}) is None
    assert schedule.cache_max_age_s({}) is None


# REL-08: Retry-After wins and is capped.
def test_retry_after_wins_and_is_capped() -> None:
    assert _wait(schedule.after_failure(NOW, POLICY, error_count=1, retry_after_s=600)) == 600
    day = _wait(schedule.after_failure(NOW, POLICY, error_count=1, retry_after_s=10**7))
    assert day == POLICY.max_interval_s


# REL-08: backoff with jitter doubles, then caps.
def test_backoff_doubles_then_caps() -> None:
    waits = [
        _wait(schedule.after_failure(NOW, POLICY, error_count=n, retry_after_s=None))
        for n in range(1, 15)
    ]
    assert POLICY.error_backoff_s <= waits[0] <= POLICY.error_backoff_s * 1.1
    assert all(b >= a for a, b in itertools.pairwise(waits))
    assert waits[-1] == POLICY.max_interval_s
    assert waits[3] >= 8 * POLICY.error_backoff_s
