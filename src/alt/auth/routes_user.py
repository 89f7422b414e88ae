"""`/v1/user/profile`, `/v1/user/sessions` and `/v1/user/totp`: what a user does with their
own account. Changing the e-mail address, the password or the second factor asks for the
current password again."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from psycopg import AsyncConnection, errors
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from alt.auth import audit, throttle, totp
from alt.auth.accounts import Credentials, credentials_by_id, get_account, set_password_hash
from alt.auth.context import (
    Authed,
    AuthedDep,
    ConnDep,
    Runtime,
    RuntimeDep,
    clear_session_cookie,
)
from alt.auth.login import too_many
from alt.auth.passwords import MAX_LENGTH, WeakPassword, hash_password, verify_password
from alt.auth.preferences import merged_preferences
from alt.auth.routes_auth import session_response
from alt.auth.sessions import list_sessions, revoke_all, revoke_one, rotate
from alt.auth.users import UserError, normalise_email
from alt.platform.errors import AltError

Conn = AsyncConnection[Any]
REAUTH = "reauth"


class ProfileBody(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=254)
    current_password: str | None = Field(default=None, max_length=MAX_LENGTH)
    new_password: str | None = Field(default=None, max_length=MAX_LENGTH)
    preferences: dict[str, Any] | None = Field(default=None, max_length=16)
    """Only the preferences it names change (see `alt.auth.preferences.Preferences`)."""


class PasswordBody(BaseModel):
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class CodeBody(BaseModel):
    code: str = Field(min_length=6, max_length=16)


async def confirm_password(
    conn: Conn, rt: Runtime, who: Authed, password: str | None
) -> Credentials:
    """The user's own password again (throttled like logins); 403 if wrong."""
    account = who.session.account
    count = await throttle.hit(conn, REAUTH, str(account.id), rt.cfg.login_window_s)
    if count.over(rt.cfg.login_account_failures):
        raise too_many(count.retry_after_s)
    creds = await credentials_by_id(conn, account.id)
    assert creds is not None
    if not password or not await asyncio.to_thread(verify_password, creds.password_hash, password):
        await audit.record(conn, "reauth.failed", user_id=account.id, ip=who.client.ip)
        raise AltError(403, "wrong_password", "The current password is wrong.")
    await throttle.clear(conn, REAUTH, str(account.id))
    return creds


async def profile_body(conn: Conn, who: Authed) -> dict[str, Any]:
    account = await get_account(conn, who.session.account.id)
    assert account is not None
    return {
        "user": account.public(),
        "sessions": await list_sessions(conn, account.id, who.session.key),
        "recovery_codes_left": await totp.unused_recovery_codes(conn, account.id),
    }


def router(route_class: type[Any]) -> APIRouter:
    r = APIRouter(route_class=route_class, tags=["user"])
    _profile_routes(r)
    _session_routes(r)
    _totp_routes(r)
    return r


def _profile_routes(r: APIRouter) -> None:
    @r.get("/v1/user/profile")
    async def profile(who: AuthedDep, conn: ConnDep) -> dict[str, Any]:
        return await profile_body(conn, who)

    @r.put("/v1/user/profile")
    async def update_profile(
        body: ProfileBody, who: AuthedDep, rt: RuntimeDep, conn: ConnDep
    ) -> Response:
        user_id = who.session.account.id
        if body.email is not None or body.new_password is not None:
            await confirm_password(conn, rt, who, body.current_password)
        if body.display_name is not None:
            await conn.execute(
                "UPDATE users SET display_name = %s WHERE id = %s", (body.display_name, user_id)
            )
        if body.preferences is not None:
            await _change_preferences(conn, who, body.preferences)
        if body.email is not None:
            await _change_email(conn, who, body.email)
        if body.new_password is not None:
            return await _change_password(conn, rt, who, body.new_password)
        return JSONResponse(await profile_body(conn, who))

    # The same change as PATCH (each method its own route, so each its own operation id).
    r.add_api_route("/v1/user/profile", update_profile, methods=["PATCH"])


async def _change_preferences(conn: Conn, who: Authed, change: dict[str, Any]) -> None:
    user_id = who.session.account.id
    async with conn.transaction():
        cursor = await conn.execute(
            "SELECT preferences FROM users WHERE id = %s FOR UPDATE", (user_id,)
        )
        row = await cursor.fetchone()
        assert row is not None
        chosen = merged_preferences(row["preferences"], change)
        await conn.execute(
            "UPDATE users SET preferences = %s WHERE id = %s", (Jsonb(chosen), user_id)
        )


async def _change_email(conn: Conn, who: Authed, email: str) -> None:
    try:
        email = normalise_email(email)
        await conn.execute(
            "UPDATE users SET email = %s WHERE id = %s", (email, who.session.account.id)
        )
    except UserError as exc:
        raise AltError(422, "validation_failed", str(exc)) from None
    except errors.UniqueViolation:
        raise AltError(409, "email_taken", "Another account uses this address.") from None
    await audit.record(conn, "email.changed", user_id=who.session.account.id, ip=who.client.ip)


async def _change_password(conn: Conn, rt: Runtime, who: Authed, password: str) -> Response:
    """New password: every other session ends, this one gets a new token (rotation)."""
    try:
        password_hash = await asyncio.to_thread(hash_password, password)
    except WeakPassword as exc:
        raise AltError(422, "validation_failed", str(exc)) from None
    user_id = who.session.account.id
    async with conn.transaction():
        await set_password_hash(conn, user_id, password_hash, changed=True)
        await revoke_all(conn, user_id, "password_changed", keep=who.session.key)
        opened = await rotate(
            conn,
            who.session,
            rt.cfg,
            reason="password_changed",
            ip=who.client.ip,
            user_agent=who.client.user_agent,
        )
        await audit.record(conn, "password.changed", user_id=user_id, ip=who.client.ip)
    return await session_response(conn, opened, {"status": "password_changed"})


def _session_routes(r: APIRouter) -> None:
    @r.get("/v1/user/sessions")
    async def sessions(who: AuthedDep, conn: ConnDep) -> dict[str, Any]:
        return {"sessions": await list_sessions(conn, who.session.account.id, who.session.key)}

    @r.delete("/v1/user/sessions/{session_id:uuid}")
    async def end_session(session_id: uuid.UUID, who: AuthedDep, conn: ConnDep) -> Response:
        user_id = who.session.account.id
        if not await revoke_one(conn, user_id, session_id, "ended_by_user"):
            raise AltError(404, "not_found", "No such session.")
        await audit.record(
            conn,
            "session.revoked",
            user_id=user_id,
            ip=who.client.ip,
            reason="ended_by_user",
            session=str(session_id),
        )
        response = JSONResponse({"status": "ended"})
        if session_id == who.session.public_id:
            clear_session_cookie(response)
        return response

    @r.delete("/v1/user/sessions")
    async def end_sessions(who: AuthedDep, conn: ConnDep, keep_current: bool = True) -> Response:
        """End all the user's other sessions, or all of them with `keep_current=false`."""
        user_id = who.session.account.id
        keep = who.session.key if keep_current else None
        ended = await revoke_all(conn, user_id, "ended_by_user", keep=keep)
        await audit.record(
            conn,
            "session.revoked",
            user_id=user_id,
            ip=who.client.ip,
            reason="ended_by_user",
            count=ended,
        )
        response = JSONResponse({"status": "ended", "ended": ended})
        if not keep_current:
            clear_session_cookie(response)
        return response


def _totp_routes(r: APIRouter) -> None:
    @r.post("/v1/user/totp")
    async def begin_totp(
        body: PasswordBody, who: AuthedDep, rt: RuntimeDep, conn: ConnDep
    ) -> dict[str, Any]:
        """Start enrolment: a new secret, active only once a code from it is confirmed."""
        creds = await confirm_password(conn, rt, who, body.password)
        if creds.account.totp_enabled:
            raise AltError(409, "totp_enabled", "Two-factor login is on already.")
        secret = totp.new_secret()
        await conn.execute(
            "UPDATE users SET totp_secret = %s, totp_last_step = NULL WHERE id = %s",
            (secret.encode(), creds.account.id),
        )
        return {"secret": secret, "uri": totp.provisioning_uri(secret, creds.account.email)}

    @r.post("/v1/user/totp/confirm")
    async def confirm_totp(
        body: CodeBody, who: AuthedDep, rt: RuntimeDep, conn: ConnDep
    ) -> Response:
        creds = await credentials_by_id(conn, who.session.account.id)
        assert creds is not None
        if creds.account.totp_enabled or creds.totp_secret is None:
            raise AltError(409, "totp_not_pending", "Start two-factor enrolment first.")
        if not await totp.accept_code(
            conn, creds.account.id, creds.totp_secret.decode(), body.code
        ):
            raise AltError(422, "validation_failed", "The code is wrong; try the next one.")
        async with conn.transaction():
            await conn.execute(
                "UPDATE users SET totp_enabled_at = now() WHERE id = %s", (creds.account.id,)
            )
            codes = await totp.replace_recovery_codes(conn, creds.account.id)
            await revoke_all(conn, creds.account.id, "totp_enabled", keep=who.session.key)
            opened = await rotate(
                conn,
                who.session,
                rt.cfg,
                reason="totp_enabled",
                ip=who.client.ip,
                user_agent=who.client.user_agent,
            )
            await audit.record(conn, "totp.enabled", user_id=creds.account.id, ip=who.client.ip)
        return await session_response(conn, opened, {"recovery_codes": codes})

    @r.delete("/v1/user/totp")
    async def disable_totp(
        body: PasswordBody, who: AuthedDep, rt: RuntimeDep, conn: ConnDep
    ) -> dict[str, Any]:
        creds = await confirm_password(conn, rt, who, body.password)
        async with conn.transaction():
            await conn.execute(
                "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL,"
                " totp_last_step = NULL WHERE id = %s",
                (creds.account.id,),
            )
            await conn.execute("DELETE FROM recovery_codes WHERE user_id = %s", (creds.account.id,))
            await audit.record(conn, "totp.disabled", user_id=creds.account.id, ip=who.client.ip)
        return {"status": "disabled"}

    @r.post("/v1/user/totp/recovery-codes")
    async def new_recovery_codes(
        body: PasswordBody, who: AuthedDep, rt: RuntimeDep, conn: ConnDep
    ) -> dict[str, Any]:
        creds = await confirm_password(conn, rt, who, body.password)
        if not creds.account.totp_enabled:
            raise AltError(409, "totp_disabled", "Two-factor login is off.")
        codes = await totp.replace_recovery_codes(conn, creds.account.id)
        await audit.record(
            conn, "totp.recovery_codes_replaced", user_id=creds.account.id, ip=who.client.ip
        )
        return {"recovery_codes": codes}
