"""The edge: what alt-frontend knows about the browser in front of it and how it speaks for
that browser to auth-service.

alt-frontend is the only public service. It keeps the session in a cookie
(`__Host-alt_session`: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, when
ALT_FRONTEND_URL is https; `alt_session` without Secure on plain-http loopback), passes the
cookie's value, the CSRF header, Origin, Sec-Fetch-Site, the user agent and the client's address
to auth-service in headers of its own, and turns auth-service's answers back into cookies.
Nothing a browser sends in an `X-Alt-*` header is ever passed on.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request, Response

from alt.config import Settings
from alt.frontend.settings import EdgeSettings
from alt.platform.auth_wire import (
    CLIENT_IP_HEADER,
    CLIENT_UA_HEADER,
    CSRF_HEADER,
    PRESESSION_HEADER,
    SAFE_METHODS,
    SESSION_HEADER,
    SET_PRESESSION_HEADER,
    SET_SESSION_HEADER,
    allowed_origins,
    cross_site,
    read_cookie_instruction,
)
from alt.platform.errors import AltError

AUTH = "auth-service"
PASSED_ON = ("content-type", "accept", "origin", "sec-fetch-site")
KEPT_FROM_UPSTREAM = ("content-type", "retry-after", "cache-control")
VALIDATE_PATH = "/v1/auth/validate"


def json_or_empty(answer: httpx.Response) -> dict[str, Any]:
    """An answer's JSON object, or {} when its body is something else."""
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class SessionAnswers:
    """auth-service's recent answers about sessions, for GET pages to reuse for `lifetime_s`
    instead of a call to auth-service each. Measured with bench/ui (full data set, 4 clients):
    CPU per unread page 20.2 -> 15.6 ms (auth-service 3.0 -> 1.5, the edge 10.9 -> 8.7), per
    article page 12.3 -> 8.5 ms; with 10 users, the edge's CPU per page 4.2 -> 1.0 ms. Keyed by
    a hash of the session token, at most `size` sessions, the oldest dropped first."""

    def __init__(
        self, lifetime_s: float, size: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.lifetime_s = lifetime_s
        self.size = size
        self._clock = clock
        self._answers: OrderedDict[bytes, tuple[float, dict[str, Any]]] = OrderedDict()
        self.generation = 0
        """Moves at every drop: an answer asked for before a drop is not stored after it (it
        may be what the change made untrue)."""

    @staticmethod
    def _key(session: str) -> bytes:
        return hashlib.sha256(session.encode()).digest()

    def get(self, session: str) -> dict[str, Any] | None:
        key = self._key(session)
        found = self._answers.get(key)
        if found is None:
            return None
        if self._clock() >= found[0]:
            del self._answers[key]
            return None
        return found[1]

    def put(self, session: str, answer: dict[str, Any], asked_at_generation: int) -> None:
        if self.lifetime_s <= 0 or asked_at_generation != self.generation:
            return
        key = self._key(session)
        self._answers[key] = (self._clock() + self.lifetime_s, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)

    def forget(self, session: str) -> None:
        """Drop the answers about every session of this session's user (it may be ending them,
        changing the password or the user's settings), or this one's when it is not known."""
        found = self._answers.pop(self._key(session), None)
        if found is not None:
            self.forget_user(found[1]["user"]["id"])

    def forget_user(self, user_id: str) -> None:
        self.generation += 1
        for key in [
            k for k, (_, answer) in self._answers.items() if answer["user"]["id"] == user_id
        ]:
            del self._answers[key]

    def clear(self) -> None:
        self.generation += 1
        self._answers.clear()


@dataclass(frozen=True)
class Edge:
    settings: Settings
    cfg: EdgeSettings
    https: bool
    session_cookie: str
    presession_cookie: str
    origins: frozenset[str]
    sessions: SessionAnswers

    @classmethod
    def build(cls, settings: Settings, cfg: EdgeSettings) -> Edge:
        https = settings.alt_frontend_url.scheme == "https"
        prefix = "__Host-" if https else ""
        return cls(
            settings,
            cfg,
            https,
            f"{prefix}alt_session",
            f"{prefix}alt_presession",
            allowed_origins(str(settings.alt_frontend_url), cfg.cors_origins),
            SessionAnswers(cfg.page_session_reuse_s),
        )


def edge_of(request: Request) -> Edge:
    edge: Edge = request.app.state.edge
    return edge


def client_ip(request: Request, edge: Edge) -> str:
    """The socket peer; X-Forwarded-For only when that peer is a configured proxy, read from
    the right, skipping the configured proxies."""
    peer = request.client.host if request.client else "0.0.0.0"  # noqa: S104 (no address)
    if not _trusted(peer, edge):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _trusted(hop, edge):
            return hop
    return peer


def _trusted(address: str, edge: Edge) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in edge.cfg.trusted_proxies)


def refuse_cross_site(request: Request) -> None:
    """Router dependency: a state-changing request from another site never gets through."""
    headers = request.headers
    if cross_site(
        request.method,
        headers.get("origin"),
        headers.get("sec-fetch-site"),
        edge_of(request).origins,
    ):
        raise AltError(403, "cross_site", "Requests from other sites are not accepted.")


def forwarded_headers(request: Request, edge: Edge, csrf: str | None = None) -> dict[str, str]:
    """What auth-service learns about the browser: built here, never copied from X-Alt-*."""
    headers = {name: request.headers[name] for name in PASSED_ON if name in request.headers}
    headers[CLIENT_IP_HEADER] = client_ip(request, edge)
    headers[CLIENT_UA_HEADER] = request.headers.get("user-agent", "")[:512]
    csrf = csrf if csrf is not None else request.headers.get(CSRF_HEADER)
    values = {
        SESSION_HEADER: request.cookies.get(edge.session_cookie),
        PRESESSION_HEADER: request.cookies.get(edge.presession_cookie),
        CSRF_HEADER: csrf,
    }
    headers.update({name: value for name, value in values.items() if value})
    return headers


async def call_auth(
    request: Request, method: str, path: str, *, csrf: str | None = None, **kwargs: Any
) -> httpx.Response:
    edge = edge_of(request)
    session = request.cookies.get(edge.session_cookie)
    changes_accounts = method.upper() not in SAFE_METHODS and path != VALIDATE_PATH
    if session and request.method.upper() not in SAFE_METHODS:
        edge.sessions.forget(session)
    if changes_accounts:  # it may end sessions or change a user (an admin's: anyone)
        edge.sessions.clear()
    headers = forwarded_headers(request, edge, csrf) | kwargs.pop("headers", {})
    services = request.app.state.ctx.services
    response: httpx.Response = await services.request(AUTH, method, path, headers=headers, **kwargs)
    if changes_accounts:  # and what pages asked for meanwhile may already be untrue
        edge.sessions.clear()
    return response


async def validate_session(
    request: Request, *, unsafe: bool, csrf: str | None, reuse: bool = False
) -> dict[str, Any]:
    """auth-service's word on the browser's session: the user, a short-lived user token for
    alt-backend and the session's CSRF token. 401 without a valid session; 403 when `unsafe`
    and `csrf` is not the session's token. With `reuse` (pages' GETs), an answer about the
    same session at most `page_session_reuse_s` old may stand in; never for `unsafe`."""
    edge = edge_of(request)
    session = request.cookies.get(edge.session_cookie)
    if not session:
        raise AltError(401, "unauthenticated", "Log in to do this.")
    reuse = reuse and not unsafe and request.method.upper() in SAFE_METHODS
    if reuse and (known := edge.sessions.get(session)) is not None:
        return known
    generation = edge.sessions.generation
    body = {
        "session_token": session[:128],
        "unsafe": unsafe,
        "csrf_token": (csrf or "")[:128] or None,
    }
    answer = await call_auth(
        request,
        "POST",
        VALIDATE_PATH,
        json=body,
        headers={"content-type": "application/json"},
    )
    if answer.status_code in (401, 403):
        data = json_or_empty(answer)
        raise AltError(
            answer.status_code,
            data.get("code", "unauthenticated"),
            data.get("message", "Log in to do this."),
        )
    answer.raise_for_status()
    payload: dict[str, Any] = answer.json()
    if reuse:
        edge.sessions.put(session, payload, generation)
    elif request.method.upper() not in SAFE_METHODS:
        # It may end the user's sessions (an admin's: anyone's). A GET page that vouches for a
        # write of its own (an article marked read on open) changes none.
        user = payload["user"]
        if user.get("role") == "admin":
            edge.sessions.clear()
        else:
            edge.sessions.forget_user(user["id"])
    return payload


def relay(upstream: httpx.Response, edge: Edge) -> Response:
    """auth-service's answer for the browser: body and status as they are, the session
    instructions turned into cookies, nothing else of its headers."""
    headers = {
        name: upstream.headers[name] for name in KEPT_FROM_UPSTREAM if name in upstream.headers
    }
    response = Response(upstream.content, status_code=upstream.status_code, headers=headers)
    apply_cookies(upstream, response, edge)
    return response


def apply_cookies(upstream: httpx.Response, response: Response, edge: Edge) -> None:
    for header, name in (
        (SET_SESSION_HEADER, edge.session_cookie),
        (SET_PRESESSION_HEADER, edge.presession_cookie),
    ):
        value = upstream.headers.get(header)
        if not value:
            continue
        cookie = read_cookie_instruction(value)
        if cookie is None:
            clear_cookie(response, name, edge)
        else:
            set_cookie(response, name, *cookie, edge)


def set_cookie(response: Response, name: str, value: str, max_age_s: int, edge: Edge) -> None:
    response.set_cookie(
        name, value, max_age=max_age_s, path="/", secure=edge.https, httponly=True, samesite="lax"
    )


def clear_cookie(response: Response, name: str, edge: Edge) -> None:
    response.delete_cookie(name, path="/", secure=edge.https, httponly=True, samesite="lax")
