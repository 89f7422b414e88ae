"""What an auth-service handler knows about its request.

Browsers never reach auth-service: alt-frontend (the edge) calls it with its service token and
passes the browser's session and pre-session cookies, CSRF header, Origin and Sec-Fetch-Site,
user agent and socket address in headers. Those headers are believed only because the service
token proves the caller is alt-frontend; from any other caller they are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from psycopg import AsyncConnection

from alt.auth import audit
from alt.auth.sessions import Session, find_session
from alt.auth.settings import AuthSettings
from alt.auth.signing import UserTokenSigner
from alt.auth.tokens import same_secret
from alt.config import Settings
from alt.platform.auth_wire import (
    CLEAR,
    CLIENT_IP_HEADER,
    CLIENT_UA_HEADER,
    CSRF_HEADER,
    PRESESSION_HEADER,
    SAFE_METHODS,
    SESSION_HEADER,
    SET_PRESESSION_HEADER,
    SET_SESSION_HEADER,
    cross_site,
    set_cookie_instruction,
)
from alt.platform.errors import AltError

EDGE = "alt-frontend"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    cfg: AuthSettings
    signer: UserTokenSigner
    origins: frozenset[str]


@dataclass(frozen=True)
class Client:
    """The browser behind the edge."""

    ip: str | None
    user_agent: str | None
    session_token: str | None
    presession_token: str | None
    csrf_token: str | None


@dataclass(frozen=True)
class Authed:
    session: Session
    client: Client


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.auth
    return rt


async def connection(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection in autocommit mode; handlers open transactions where they need."""
    pool = request.app.state.ctx.pool
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        yield conn


def caller(request: Request) -> str | None:
    found: str | None = getattr(request.state, "caller", None)
    return found


def client_ip(request: Request) -> str | None:
    """The browser's address if the edge says so, else the calling socket's."""
    claimed = request.headers.get(CLIENT_IP_HEADER) if caller(request) == EDGE else None
    for candidate in (claimed, request.client.host if request.client else None):
        if candidate:
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                continue
    return None


RuntimeDep = Annotated[Runtime, Depends(runtime)]
ConnDep = Annotated[AsyncConnection[Any], Depends(connection)]


async def edge_client(request: Request, rt: RuntimeDep, conn: ConnDep) -> Client:
    """Browser-facing routes: only the edge may call them, and a state-changing request that a
    browser marks as coming from another site is refused."""
    if caller(request) != EDGE:
        raise AltError(403, "edge_only", "Only alt-frontend calls this route.")
    headers = request.headers
    client = Client(
        client_ip(request),
        headers.get(CLIENT_UA_HEADER),
        headers.get(SESSION_HEADER),
        headers.get(PRESESSION_HEADER),
        headers.get(CSRF_HEADER),
    )
    if cross_site(request.method, headers.get("origin"), headers.get("sec-fetch-site"), rt.origins):
        await audit.record(
            conn, "csrf.rejected", ip=client.ip, reason="cross_site", path=request.url.path
        )
        raise AltError(403, "cross_site", "Requests from other sites are not accepted.")
    return client


ClientDep = Annotated[Client, Depends(edge_client)]


async def authed(request: Request, client: ClientDep, rt: RuntimeDep, conn: ConnDep) -> Authed:
    """A logged-in user; every state-changing request also needs the session's CSRF token."""
    session = await find_session(conn, client.session_token, rt.cfg)
    if session is None:
        raise AltError(401, "unauthenticated", "Log in to do this.")
    if request.method.upper() not in SAFE_METHODS and not same_secret(
        session.csrf_token, client.csrf_token
    ):
        await audit.record(
            conn,
            "csrf.rejected",
            user_id=session.account.id,
            ip=client.ip,
            reason="token",
            path=request.url.path,
        )
        raise AltError(403, "csrf_failed", "This request needs a valid CSRF token.")
    return Authed(session, client)


AuthedDep = Annotated[Authed, Depends(authed)]


async def admin(who: AuthedDep) -> Authed:
    if not who.session.account.is_admin:
        raise AltError(403, "forbidden", "Only an admin may do this.")
    return who


AdminDep = Annotated[Authed, Depends(admin)]


def set_session_cookie(response: Response, token: str, max_age_s: int) -> None:
    response.headers[SET_SESSION_HEADER] = set_cookie_instruction(token, max_age_s)


def clear_session_cookie(response: Response) -> None:
    response.headers[SET_SESSION_HEADER] = CLEAR


def set_presession_cookie(response: Response, token: str | None, max_age_s: int = 0) -> None:
    response.headers[SET_PRESESSION_HEADER] = (
        set_cookie_instruction(token, max_age_s) if token else CLEAR
    )
