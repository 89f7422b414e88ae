"""The first admin of a fresh install, made through a one-time setup link.

Nobody becomes admin by being first: registration is closed by default, and the first admin
comes from `alt user create EMAIL --admin` or from the setup link that `alt up` prints while the
auth database has no admin. The link carries a 256-bit token of which only the sha256 is stored,
with an expiry; making a new one voids the older ones. The page it opens creates the admin and
deletes the token in one transaction: of two concurrent uses exactly one wins, and a token is
refused once used, once expired, or once an admin exists.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import psycopg
from psycopg import AsyncConnection

from alt.auth.accounts import HAS_ADMIN, Account, has_admin, insert_account
from alt.auth.tokens import new_token, token_hash
from alt.platform.auth_wire import SETUP_PATH
from alt.platform.errors import AltError


def issue_setup_token(conn: psycopg.Connection, ttl_s: int) -> str | None:
    """A new setup token, the only one that works; None if an admin exists already."""
    with conn.transaction():
        admin = conn.execute(HAS_ADMIN).fetchone()
        if admin and admin[0]:
            return None
        token = new_token()
        conn.execute("DELETE FROM setup_tokens")
        conn.execute(
            "INSERT INTO setup_tokens (token_hash, expires_at)"
            " VALUES (%s, now() + %s * interval '1 second')",
            (token_hash(token), ttl_s),
        )
    return token


def setup_link(ui_url: str, token: str) -> str:
    return f"{ui_url.rstrip('/')}{SETUP_PATH}?{urlencode({'token': token})}"


async def create_first_admin(
    conn: AsyncConnection[Any], token: str, email: str, password_hash: str
) -> Account:
    """The first admin, if `token` is a live setup token (which is used up by this)."""
    async with conn.transaction():
        # One use of a setup link at a time, so that the admin check below cannot race.
        await conn.execute("LOCK TABLE setup_tokens IN EXCLUSIVE MODE")
        if await has_admin(conn):
            raise AltError(409, "admin_exists", "This instance has an admin already; log in.")
        cursor = await conn.execute(
            "DELETE FROM setup_tokens WHERE token_hash = %s AND expires_at > now() RETURNING 1",
            (token_hash(token),),
        )
        if await cursor.fetchone() is None:
            raise AltError(
                403,
                "setup_link_invalid",
                "This setup link was used already or has expired; restart `alt up` for a new "
                "one, or run `alt user create EMAIL --admin`.",
            )
        account = await insert_account(conn, email, password_hash, role="admin")
        if account is None:
            raise AltError(409, "email_taken", "A user with this address exists already.")
    return account
