"""Optional second factor: TOTP (RFC 6238, 30 s steps, 6 digits) and single-use recovery codes.

A code is accepted for the current step or one step either side, and never for a step at or
before the last one accepted (no replay inside the window). Recovery codes are random, shown
once, and stored as sha256 of the user id and the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from typing import Any

import pyotp
from psycopg import AsyncConnection

ISSUER_NAME = "Alt"
RECOVERY_CODES = 10
_STEP_S = 30


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER_NAME)


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step `code` belongs to (now ± 1 step), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    for offset in (0, -1, 1):
        moment = now + offset * _STEP_S
        if hmac.compare_digest(totp.at(moment), code):
            return int(moment // _STEP_S)
    return None


async def accept_code(
    conn: AsyncConnection[Any], user_id: uuid.UUID, secret: str, code: str
) -> bool:
    """Accept a TOTP code once: it must match and be newer than the last accepted one."""
    step = matching_step(secret, code)
    if step is None:
        return False
    cursor = await conn.execute(
        "UPDATE users SET totp_last_step = %s WHERE id = %s"
        " AND (totp_last_step IS NULL OR totp_last_step < %s) RETURNING 1",
        (step, user_id, step),
    )
    return await cursor.fetchone() is not None


def new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def recovery_hash(user_id: uuid.UUID, code: str) -> bytes:
    normalised = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(user_id.bytes + normalised.encode()).digest()


async def replace_recovery_codes(conn: AsyncConnection[Any], user_id: uuid.UUID) -> list[str]:
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    await conn.execute("DELETE FROM recovery_codes WHERE user_id = %s", (user_id,))
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES (%s, %s)",
            [(user_id, recovery_hash(user_id, code)) for code in codes],
        )
    return codes


async def use_recovery_code(conn: AsyncConnection[Any], user_id: uuid.UUID, code: str) -> bool:
    cursor = await conn.execute(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = %s AND code_hash = %s"
        " AND used_at IS NULL RETURNING 1",
        (user_id, recovery_hash(user_id, code)),
    )
    return await cursor.fetchone() is not None


async def unused_recovery_codes(conn: AsyncConnection[Any], user_id: uuid.UUID) -> int:
    cursor = await conn.execute(
        "SELECT count(*) AS n FROM recovery_codes WHERE user_id = %s AND used_at IS NULL",
        (user_id,),
    )
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0
