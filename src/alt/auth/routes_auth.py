"""`/v1/auth/*`: CSRF tokens, login, registration, the first admin's setup, logout, refresh,
and the internal routes other services use (validate, keys, events)."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from alt.auth import audit, login, setup
from alt.auth.context import (
    EDGE,
    AdminDep,
    AuthedDep,
    ClientDep,
    ConnDep,
    RuntimeDep,
    caller,
    clear_session_cookie,
    client_ip,
    set_presession_cookie,
    set_session_cookie,
)
from alt.auth.csrf import find_presession, open_presession
from alt.auth.passwords import MAX_LENGTH
from alt.auth.sessions import Opened, find_session, revoke, rotate, seconds_left
from alt.auth.tokens import same_secret
from alt.platform.errors import AltError

Conn = AsyncConnection[Any]
REGISTERED = {
    "status": "accepted",
    "message": "If this address could be used, its account is ready: log in with it.",
}
VALIDATORS = frozenset({EDGE, "alt-backend"})


class LoginBody(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)
    code: str | None = Field(default=None, max_length=64)


class RegisterBody(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class SetupBody(RegisterBody):
    token: str = Field(min_length=1, max_length=128)


class ValidateBody(BaseModel):
    session_token: str = Field(min_length=1, max_length=128)
    csrf_token: str | None = Field(default=None, max_length=128)
    unsafe: bool = False
    """The request being vouched for changes state: its CSRF token must match."""


class EventBody(BaseModel):
    event: Literal["probe.blocked"]
    ip: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=64)
    path: str = Field(default="", max_length=512)


class SettingsBody(BaseModel):
    registration_open: bool


async def session_response(
    conn: Conn, opened: Opened, body: dict[str, Any], status: int = 200
) -> JSONResponse:
    session = opened.session
    payload = {
        **body,
        "user": session.account.public(),
        "csrf_token": session.csrf_token,
        "session": {
            "id": str(session.public_id),
            "expires_at": session.absolute_expires_at.isoformat(),
        },
    }
    response = JSONResponse(payload, status_code=status)
    set_session_cookie(response, opened.token, await seconds_left(conn, session))
    return response


def router(route_class: type[Any]) -> APIRouter:
    r = APIRouter(route_class=route_class, tags=["auth"])
    _browser_routes(r)
    _session_routes(r)
    _internal_routes(r)
    return r


def _browser_routes(r: APIRouter) -> None:
    @r.post("/v1/auth/csrf")
    async def csrf(client: ClientDep, rt: RuntimeDep, conn: ConnDep) -> JSONResponse:
        """The CSRF token for this browser: its session's, else its pre-session's (made
        when missing)."""
        await login.limit_rate(
            conn, login.CSRF_RATE, client.ip, rt.cfg.csrf_ip_rate, rt.cfg.rate_window_s
        )
        session = await find_session(conn, client.session_token, rt.cfg)
        if session is not None:
            return JSONResponse({"csrf_token": session.csrf_token, "kind": "session"})
        presession = await find_presession(conn, client.presession_token)
        if presession is not None:
            return JSONResponse({"csrf_token": presession.csrf_token, "kind": "presession"})
        token, presession = await open_presession(conn, rt.cfg)
        response = JSONResponse({"csrf_token": presession.csrf_token, "kind": "presession"})
        set_presession_cookie(response, token, rt.cfg.presession_ttl_s)
        return response

    @r.post("/v1/auth/login")
    async def log_in(
        body: LoginBody, client: ClientDep, rt: RuntimeDep, conn: ConnDep
    ) -> JSONResponse:
        await login.require_form_csrf(conn, client, rt.cfg)
        opened = await login.log_in(
            conn, rt, client, login.Attempt(body.email, body.password, body.code)
        )
        response = await session_response(conn, opened, {"status": "logged_in"})
        set_presession_cookie(response, None)
        return response

    @r.post("/v1/auth/register", status_code=202)
    async def register(
        body: RegisterBody, client: ClientDep, rt: RuntimeDep, conn: ConnDep
    ) -> JSONResponse:
        await login.require_form_csrf(conn, client, rt.cfg)
        await login.register(conn, rt, client, body.email, body.password)
        return JSONResponse(REGISTERED, status_code=202)

    @r.post("/v1/auth/setup", status_code=201)
    async def set_up(
        body: SetupBody, client: ClientDep, rt: RuntimeDep, conn: ConnDep
    ) -> JSONResponse:
        """The first admin, with the one-time setup link's token; logged in at once."""
        await login.limit_rate(
            conn, login.SETUP_RATE, client.ip, rt.cfg.register_ip_rate, rt.cfg.rate_window_s
        )
        await login.require_form_csrf(conn, client, rt.cfg)
        email, password_hash = await login.new_credentials(body.email, body.password)
        try:
            account = await setup.create_first_admin(conn, body.token, email, password_hash)
        except AltError as exc:
            await audit.record(conn, "setup.refused", ip=client.ip, reason=exc.code)
            raise
        await audit.record(conn, "setup.admin_created", user_id=account.id, ip=client.ip)
        opened = await login.start_session(conn, rt.cfg, client, account)
        response = await session_response(conn, opened, {"status": "admin_created"}, 201)
        set_presession_cookie(response, None)
        return response

    @r.get("/v1/auth/settings")
    async def get_settings(client: ClientDep, rt: RuntimeDep, conn: ConnDep) -> dict[str, Any]:
        return {"registration_open": await login.registration_open(conn, rt.cfg)}

    @r.put("/v1/auth/settings")
    async def put_settings(body: SettingsBody, who: AdminDep, conn: ConnDep) -> dict[str, Any]:
        user_id = who.session.account.id
        await conn.execute(
            "INSERT INTO app_settings (key, value, updated_by) VALUES (%s, %s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_by = excluded.updated_by",
            (login.REGISTRATION_KEY, Jsonb(body.registration_open), user_id),
        )
        await audit.record(
            conn,
            "settings.changed",
            user_id=user_id,
            ip=who.client.ip,
            registration_open=body.registration_open,
        )
        return {"registration_open": body.registration_open}


def _session_routes(r: APIRouter) -> None:
    @r.post("/v1/auth/logout")
    async def log_out(who: AuthedDep, conn: ConnDep) -> Response:
        await revoke(conn, who.session.key, "logout")
        await audit.record(
            conn,
            "session.revoked",
            user_id=who.session.account.id,
            ip=who.client.ip,
            reason="logout",
            session=str(who.session.public_id),
        )
        response = JSONResponse({"status": "logged_out"})
        clear_session_cookie(response)
        return response

    @r.post("/v1/auth/refresh")
    async def refresh(who: AuthedDep, rt: RuntimeDep, conn: ConnDep) -> JSONResponse:
        """A new session token and CSRF token for the same login (same absolute expiry)."""
        async with conn.transaction():
            opened = await rotate(
                conn,
                who.session,
                rt.cfg,
                reason="rotated",
                ip=who.client.ip,
                user_agent=who.client.user_agent,
            )
        return await session_response(conn, opened, {"status": "refreshed"})


def _internal_routes(r: APIRouter) -> None:
    @r.post("/v1/auth/validate")
    async def validate(
        body: ValidateBody, request: Request, rt: RuntimeDep, conn: ConnDep
    ) -> JSONResponse:
        """For alt-frontend and alt-backend: the user of a session token, and a short-lived
        signed user token for the services behind them."""
        if caller(request) not in VALIDATORS:
            raise AltError(403, "forbidden", "This service may not validate sessions.")
        session = await find_session(conn, body.session_token, rt.cfg)
        if session is None:
            raise AltError(401, "unauthenticated", "The session is not valid.")
        if body.unsafe and not same_secret(session.csrf_token, body.csrf_token):
            await audit.record(
                conn,
                "csrf.rejected",
                user_id=session.account.id,
                ip=client_ip(request),
                reason="token",
            )
            raise AltError(403, "csrf_failed", "This request needs a valid CSRF token.")
        token, expires = await rt.signer.issue(conn, session, csrf_checked=body.unsafe)
        payload: dict[str, Any] = {
            "user": session.account.public(),
            "token": token,
            "token_expires_at": expires,
            "session": {
                "id": str(session.public_id),
                "expires_at": session.absolute_expires_at.isoformat(),
            },
        }
        if caller(request) == EDGE:
            payload["csrf_token"] = session.csrf_token
        return JSONResponse(payload)

    @r.get("/v1/auth/keys")
    async def keys(rt: RuntimeDep, conn: ConnDep) -> Response:
        """The public keys that verify user tokens (JWKS)."""
        return JSONResponse(await rt.signer.jwks(conn), headers={"Cache-Control": "max-age=60"})

    @r.post("/v1/auth/events", status_code=204)
    async def events(body: EventBody, request: Request, conn: ConnDep) -> Response:
        """Security events seen by other services (the edge's blocked probes)."""
        ip = None
        if body.ip:
            try:
                ip = str(ipaddress.ip_address(body.ip))
            except ValueError:
                ip = None
        await audit.record(
            conn, body.event, ip=ip, reason=body.reason, path=body.path, reported_by=caller(request)
        )
        return Response(status_code=204)
