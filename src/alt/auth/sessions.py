"""Server-side sessions in the auth database.

The browser holds an opaque 256-bit token; the database holds its sha256. A session is valid
while it is not revoked, its idle expiry (moved forward by activity) and its absolute expiry
have not passed, its user is not disabled and it was opened after the user's last password
change. Time is the database's clock, the same for every replica.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from alt.auth.accounts import ACCOUNT_COLUMNS, Account, account_from_row
from alt.auth.settings import AuthSettings
from alt.auth.tokens import csrf_token, is_token_shaped, new_secret, new_token, token_hash

_FIND = sql.SQL("""
SELECT s.id AS session_key, s.public_id, s.csrf_secret, s.absolute_expires_at,
       s.last_seen_at < now() - %(touch)s * interval '1 second' AS stale, {}
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = %(key)s AND s.revoked_at IS NULL
  AND s.idle_expires_at > now() AND s.absolute_expires_at > now()
  AND u.disabled_at IS NULL AND s.created_at >= u.password_changed_at
""").format(ACCOUNT_COLUMNS)

_TOUCH = """
UPDATE sessions SET last_seen_at = now(),
       idle_expires_at = least(now() + %(idle)s * interval '1 second', absolute_expires_at)
WHERE id = %(key)s
"""

_OPEN = """
INSERT INTO sessions (id, user_id, csrf_secret, idle_expires_at, absolute_expires_at,
                      user_agent, ip)
VALUES (%(key)s, %(user_id)s, %(secret)s,
        least(now() + %(idle)s * interval '1 second',
              coalesce(%(absolute)s, now() + %(absolute_s)s * interval '1 second')),
        coalesce(%(absolute)s, now() + %(absolute_s)s * interval '1 second'),
        %(user_agent)s, %(ip)s)
RETURNING public_id, absolute_expires_at
"""


_TIMES = ("created_at", "last_seen_at", "idle_expires_at", "absolute_expires_at")


@dataclass(frozen=True)
class Session:
    key: bytes
    """sha256 of the cookie token; never leaves auth-service."""
    public_id: uuid.UUID
    csrf_secret: bytes
    absolute_expires_at: datetime
    account: Account

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.csrf_secret, self.key, "session")


@dataclass(frozen=True)
class Opened:
    token: str
    session: Session


async def open_session(
    conn: AsyncConnection[Any],
    account: Account,
    cfg: AuthSettings,
    *,
    ip: str | None,
    user_agent: str | None,
    absolute_expires_at: datetime | None = None,
) -> Opened:
    token, secret = new_token(), new_secret()
    key = token_hash(token)
    cursor = await conn.execute(
        _OPEN,
        {
            "key": key,
            "user_id": account.id,
            "secret": secret,
            "idle": cfg.session_idle_s,
            "absolute": absolute_expires_at,
            "absolute_s": cfg.session_absolute_s,
            "user_agent": (user_agent or "")[:512] or None,
            "ip": ip,
        },
    )
    row = await cursor.fetchone()
    assert row is not None
    return Opened(
        token, Session(key, row["public_id"], secret, row["absolute_expires_at"], account)
    )


async def find_session(
    conn: AsyncConnection[Any], token: str | None, cfg: AuthSettings
) -> Session | None:
    """The live session of this token, its idle expiry moved forward; None otherwise."""
    if not is_token_shaped(token):
        return None
    assert token is not None
    key = token_hash(token)
    cursor = await conn.execute(_FIND, {"key": key, "touch": cfg.session_touch_s})
    row = await cursor.fetchone()
    if row is None:
        return None
    if row["stale"]:
        await conn.execute(_TOUCH, {"key": key, "idle": cfg.session_idle_s})
    return Session(
        key,
        row["public_id"],
        bytes(row["csrf_secret"]),
        row["absolute_expires_at"],
        account_from_row(row),
    )


async def rotate(
    conn: AsyncConnection[Any],
    session: Session,
    cfg: AuthSettings,
    *,
    reason: str,
    ip: str | None,
    user_agent: str | None,
    account: Account | None = None,
) -> Opened:
    """A new token and CSRF secret for the same login; the old token stops working at once.
    The absolute expiry stays that of the login."""
    await revoke(conn, session.key, reason)
    return await open_session(
        conn,
        account or session.account,
        cfg,
        ip=ip,
        user_agent=user_agent,
        absolute_expires_at=session.absolute_expires_at,
    )


async def revoke(conn: AsyncConnection[Any], key: bytes, reason: str) -> None:
    await conn.execute(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = %s"
        " WHERE id = %s AND revoked_at IS NULL",
        (reason, key),
    )


async def revoke_one(
    conn: AsyncConnection[Any], user_id: uuid.UUID, public_id: uuid.UUID, reason: str
) -> bool:
    """End one of the user's own sessions; False if the user has no such live session."""
    cursor = await conn.execute(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = %s"
        " WHERE user_id = %s AND public_id = %s AND revoked_at IS NULL RETURNING 1",
        (reason, user_id, public_id),
    )
    return await cursor.fetchone() is not None


async def revoke_all(
    conn: AsyncConnection[Any], user_id: uuid.UUID, reason: str, *, keep: bytes | None = None
) -> int:
    cursor = await conn.execute(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = %s"
        " WHERE user_id = %s AND revoked_at IS NULL AND id IS DISTINCT FROM %s",
        (reason, user_id, keep),
    )
    return cursor.rowcount


async def list_sessions(
    conn: AsyncConnection[Any], user_id: uuid.UUID, current: bytes | None
) -> list[dict[str, Any]]:
    """The user's live sessions, newest first, without any secret."""
    cursor = await conn.execute(
        "SELECT public_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at,"
        " user_agent, host(ip) AS ip, id = %s AS current FROM sessions"
        " WHERE user_id = %s AND revoked_at IS NULL AND idle_expires_at > now()"
        " AND absolute_expires_at > now() ORDER BY created_at DESC, public_id",
        (current, user_id),
    )
    rows = await cursor.fetchall()
    return [
        {
            "id": str(row["public_id"]),
            "current": row["current"],
            "ip": row["ip"],
            "user_agent": row["user_agent"],
            **{name: row[name].isoformat() for name in _TIMES},
        }
        for row in rows
    ]


async def seconds_left(conn: AsyncConnection[Any], session: Session) -> int:
    cursor = await conn.execute(
        "SELECT extract(epoch FROM %s - now()) AS left", (session.absolute_expires_at,)
    )
    row = await cursor.fetchone()
    assert row is not None
    return max(0, int(row["left"]))
