"""CSRF defences: synchronizer tokens bound to a session or to a pre-session.

Before login there is no session to bind a token to, so the login and registration forms use a
pre-session: an anonymous, short-lived server-side record whose id is an HttpOnly cookie and
whose CSRF token is the HMAC of that id under the pre-session's own secret. A page on another
origin can neither read the token nor set the cookie, so it cannot log a victim into an account
of its choosing. The pre-session is deleted at login. The Origin / Sec-Fetch-Site rule is part
of the edge's wire contract (`alt.platform.auth_wire`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from alt.auth.settings import AuthSettings
from alt.auth.tokens import csrf_token, is_token_shaped, new_secret, new_token, token_hash


@dataclass(frozen=True)
class Presession:
    key: bytes
    csrf_secret: bytes

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.csrf_secret, self.key, "presession")


async def open_presession(conn: AsyncConnection[Any], cfg: AuthSettings) -> tuple[str, Presession]:
    await conn.execute(
        "DELETE FROM presessions WHERE id IN"
        " (SELECT id FROM presessions WHERE expires_at < now() LIMIT 100)"
    )
    token, secret = new_token(), new_secret()
    key = token_hash(token)
    await conn.execute(
        "INSERT INTO presessions (id, csrf_secret, expires_at)"
        " VALUES (%s, %s, now() + %s * interval '1 second')",
        (key, secret, cfg.presession_ttl_s),
    )
    return token, Presession(key, secret)


async def find_presession(conn: AsyncConnection[Any], token: str | None) -> Presession | None:
    if not is_token_shaped(token):
        return None
    assert token is not None
    key = token_hash(token)
    cursor = await conn.execute(
        "SELECT csrf_secret FROM presessions WHERE id = %s AND expires_at > now()", (key,)
    )
    row = await cursor.fetchone()
    return Presession(key, bytes(row["csrf_secret"])) if row else None


async def drop_presession(conn: AsyncConnection[Any], token: str | None) -> None:
    if is_token_shaped(token):
        assert token is not None
        await conn.execute("DELETE FROM presessions WHERE id = %s", (token_hash(token),))
