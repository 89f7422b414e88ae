"""Deleting a user everywhere.

The auth database's rows go at once, in one transaction with an entry in `user_purges`. The
application database belongs to alt-backend, so auth-service asks it
(`DELETE /v1/internal/users/{id}`, with auth-service's service token) to delete that user's
rows; only a 2xx answer clears the entry. Entries that fail are retried in the background
until alt-backend confirms, so a user's data is not left behind when alt-backend is down.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alt.platform.logging import get_logger
from alt.platform.service_client import ServiceClient

log = get_logger(__name__)

BACKEND = "alt-backend"
BATCH = 20


def backend_path(user_id: uuid.UUID) -> str:
    return f"/v1/internal/users/{user_id}"


async def delete_auth_rows(conn: AsyncConnection[Any], user_id: uuid.UUID) -> None:
    """Remove the user (sessions and recovery codes go with it) and queue the app-side purge."""
    await conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
    await conn.execute(
        "INSERT INTO user_purges (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING", (user_id,)
    )


async def purge_app_data(
    conn: AsyncConnection[Any], services: ServiceClient, user_id: uuid.UUID
) -> bool:
    """Ask alt-backend to delete the user's data; True once it has confirmed."""
    error = None
    try:
        response = await services.request(BACKEND, "DELETE", backend_path(user_id), timeout=10.0)
        if not response.is_success:
            error = f"alt-backend answered {response.status_code}"
    except httpx.HTTPError as exc:
        error = f"alt-backend unreachable: {type(exc).__name__}"
    if error is None:
        await conn.execute("DELETE FROM user_purges WHERE user_id = %s", (user_id,))
        return True
    await conn.execute(
        "UPDATE user_purges SET attempts = attempts + 1, last_attempt_at = now(),"
        " last_error = %s WHERE user_id = %s",
        (error[:200], user_id),
    )
    log.warning("user_purge_pending", user_id=str(user_id), error=error)
    return False


async def retry_pending(pool: AsyncConnectionPool[Any], services: ServiceClient) -> int:
    """One pass over the queue; returns how many purges were confirmed."""
    done = 0
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        cursor = await conn.execute(
            "SELECT user_id FROM user_purges ORDER BY last_attempt_at NULLS FIRST LIMIT %s",
            (BATCH,),
        )
        for row in await cursor.fetchall():
            done += await purge_app_data(conn, services, row["user_id"])
    return done


async def tidy(conn: AsyncConnection[Any]) -> None:
    """Drop what can never be valid again: long-dead sessions, expired pre-sessions, old
    throttle counters."""
    await conn.execute(
        "DELETE FROM sessions WHERE absolute_expires_at < now() - interval '7 days'"
        " OR idle_expires_at < now() - interval '7 days'"
        " OR revoked_at < now() - interval '7 days'"
    )
    await conn.execute("DELETE FROM presessions WHERE expires_at < now()")
    await conn.execute("DELETE FROM auth_throttle WHERE updated_at < now() - interval '1 day'")


async def background(
    pool: AsyncConnectionPool[Any], services: ServiceClient, every_s: float
) -> None:
    """auth-service's housekeeping loop: pending purges, then tidying."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await retry_pending(pool, services)
            async with pool.connection() as conn:
                await conn.set_autocommit(True)
                await tidy(conn)
        except Exception as exc:
            log.warning("auth_housekeeping_failed", error=type(exc).__name__)
