"""Counters in `auth_throttle`, shared by every replica of auth-service.

A counter is a row per (scope, key) with a fixed window: the first hit starts the window, the
window ends `window_s` later and the next hit after that starts a new one. Attempts are counted
*before* the expensive work (password verification) and in their own statement, so concurrent
attempts serialise on the row and none slips past a limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

_HIT = """
INSERT INTO auth_throttle AS t (scope, key, failures, window_started_at)
VALUES (%(scope)s, %(key)s, 1, now())
ON CONFLICT (scope, key) DO UPDATE SET
    failures = CASE WHEN t.window_started_at <= now() - %(window)s * interval '1 second'
                    THEN 1 ELSE t.failures + 1 END,
    window_started_at = CASE WHEN t.window_started_at <= now() - %(window)s * interval '1 second'
                             THEN now() ELSE t.window_started_at END
RETURNING failures,
          extract(epoch FROM window_started_at + %(window)s * interval '1 second' - now())
              AS remaining
"""

_LOCK = """
UPDATE auth_throttle SET locked_until = window_started_at + %(window)s * interval '1 second'
WHERE scope = %(scope)s AND key = %(key)s
"""


@dataclass(frozen=True)
class Count:
    count: int
    retry_after_s: int

    def over(self, limit: int) -> bool:
        return self.count > limit


async def hit(conn: AsyncConnection[Any], scope: str, key: str, window_s: int) -> Count:
    """Count one attempt in the current window."""
    params = {"scope": scope, "key": key[:320], "window": window_s}
    cursor = await conn.execute(_HIT, params)
    row = await cursor.fetchone()
    assert row is not None
    return Count(int(row["failures"]), max(1, math.ceil(float(row["remaining"]))))


async def mark_locked(conn: AsyncConnection[Any], scope: str, key: str, window_s: int) -> None:
    """Note on the row until when it is locked (for operators; the count decides)."""
    await conn.execute(_LOCK, {"scope": scope, "key": key[:320], "window": window_s})


async def forgive_one(conn: AsyncConnection[Any], scope: str, key: str) -> None:
    """Take back one counted attempt (a success must not count as a failure)."""
    await conn.execute(
        "UPDATE auth_throttle SET failures = greatest(failures - 1, 0)"
        " WHERE scope = %s AND key = %s",
        (scope, key[:320]),
    )


async def clear(conn: AsyncConnection[Any], scope: str, key: str) -> None:
    await conn.execute(
        "DELETE FROM auth_throttle WHERE scope = %s AND key = %s", (scope, key[:320])
    )
