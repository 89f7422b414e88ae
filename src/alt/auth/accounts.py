"""Users as auth-service handles them: lookups, creation, changes and deletion.

Nothing here returns a password hash or a session id to a caller outside auth-service: the
`Account` a route sees has neither.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql

from alt.auth.preferences import public_preferences
from alt.auth.users import UserError, normalise_email

ACCOUNT_COLUMNS_TEXT = (
    "u.id AS user_id, u.email, u.display_name, u.role, u.disabled_at,"
    " u.totp_enabled_at IS NOT NULL AS totp_enabled, u.created_at AS user_created_at,"
    " u.last_login_at, u.preferences"
)
ACCOUNT_COLUMNS = sql.SQL(ACCOUNT_COLUMNS_TEXT)
_CREDENTIALS = sql.SQL("SELECT {}, u.password_hash, u.totp_secret FROM users u WHERE ").format(
    ACCOUNT_COLUMNS
)


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    display_name: str | None
    role: str
    disabled: bool
    totp_enabled: bool
    created_at: datetime
    last_login_at: datetime | None
    preferences: dict[str, Any]
    """Complete and valid (defaults filled in)."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def public(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "email": self.email,
            "display_name": self.display_name,
            "role": self.role,
            "disabled": self.disabled,
            "totp_enabled": self.totp_enabled,
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "preferences": dict(self.preferences),
        }


@dataclass(frozen=True)
class Credentials:
    account: Account
    password_hash: str
    totp_secret: bytes | None


def account_from_row(row: dict[str, Any]) -> Account:
    return Account(
        row["user_id"],
        row["email"],
        row["display_name"],
        row["role"],
        row["disabled_at"] is not None,
        row["totp_enabled"],
        row["user_created_at"],
        row["last_login_at"],
        public_preferences(row["preferences"]),
    )


async def credentials_by_email(conn: AsyncConnection[Any], email: str) -> Credentials | None:
    try:
        email = normalise_email(email)
    except UserError:
        return None
    cursor = await conn.execute(_CREDENTIALS + sql.SQL("lower(u.email) = lower(%s)"), (email,))
    row = await cursor.fetchone()
    if row is None:
        return None
    secret = bytes(row["totp_secret"]) if row["totp_secret"] is not None else None
    return Credentials(account_from_row(row), row["password_hash"], secret)


async def credentials_by_id(conn: AsyncConnection[Any], user_id: uuid.UUID) -> Credentials | None:
    cursor = await conn.execute(_CREDENTIALS + sql.SQL("u.id = %s"), (user_id,))
    row = await cursor.fetchone()
    if row is None:
        return None
    secret = bytes(row["totp_secret"]) if row["totp_secret"] is not None else None
    return Credentials(account_from_row(row), row["password_hash"], secret)


async def get_account(conn: AsyncConnection[Any], user_id: uuid.UUID) -> Account | None:
    cursor = await conn.execute(
        sql.SQL("SELECT {} FROM users u WHERE u.id = %s").format(ACCOUNT_COLUMNS), (user_id,)
    )
    row = await cursor.fetchone()
    return account_from_row(row) if row else None


async def list_accounts(conn: AsyncConnection[Any], limit: int, offset: int) -> list[Account]:
    cursor = await conn.execute(
        sql.SQL("SELECT {} FROM users u ORDER BY u.created_at, u.id LIMIT %s OFFSET %s").format(
            ACCOUNT_COLUMNS
        ),
        (limit, offset),
    )
    return [account_from_row(row) for row in await cursor.fetchall()]


async def insert_account(
    conn: AsyncConnection[Any], email: str, password_hash: str, *, role: str
) -> Account | None:
    """Create a user; None if the e-mail address is taken."""
    try:
        cursor = await conn.execute(
            "INSERT INTO users (email, password_hash, role) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (email, password_hash, role),
        )
    except errors.CheckViolation:
        raise UserError("The e-mail address is not valid.") from None
    row = await cursor.fetchone()
    return None if row is None else await get_account(conn, row["id"])


HAS_ADMIN = "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')"


async def has_admin(conn: AsyncConnection[Any]) -> bool:
    cursor = await conn.execute(HAS_ADMIN + " AS any")
    row = await cursor.fetchone()
    return bool(row and row["any"])


async def set_password_hash(
    conn: AsyncConnection[Any], user_id: uuid.UUID, password_hash: str, *, changed: bool
) -> None:
    """Store a hash: a new password (`changed`, which voids older sessions) or a rehash."""
    if changed:
        await conn.execute(
            "UPDATE users SET password_hash = %s, password_changed_at = now() WHERE id = %s",
            (password_hash, user_id),
        )
    else:
        await conn.execute(
            "UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id)
        )


async def active_admins(conn: AsyncConnection[Any]) -> list[uuid.UUID]:
    """Enabled admins, rows locked so a concurrent change cannot remove the last one."""
    cursor = await conn.execute(
        "SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL FOR UPDATE"
    )
    return [row["id"] for row in await cursor.fetchall()]
