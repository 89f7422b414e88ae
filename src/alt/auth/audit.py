"""The security audit trail: every login, lockout, password change, revoked session, blocked
probe and admin action becomes one row of `audit_log`."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from alt.platform.logging import get_logger

log = get_logger("alt.audit")


async def record(
    conn: AsyncConnection[Any],
    event: str,
    *,
    user_id: uuid.UUID | None = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    await conn.execute(
        "INSERT INTO audit_log (event, user_id, ip, request_id, details)"
        " VALUES (%s, %s, %s, %s, %s)",
        (event, user_id, ip, request_id, Jsonb(details)),
    )
    log.info(
        "security_event", security_event=event, user_id=str(user_id) if user_id else None, ip=ip
    )
