"""The login, logout and setup pages: plain HTML forms that work without JavaScript.

The setup page (`/setup?token=…`, the link `alt up` prints while the instance has no admin)
creates the first admin with the link's one-time token and logs them in.

After login the browser goes to `next`, but only if it is a path on this site: anything that a
browser could read as another host (`//evil`, `/\\evil`, `https://…`, `javascript:`, encoded or
with control characters) becomes `/`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from alt.frontend.edge import apply_cookies, call_auth, edge_of, json_or_empty
from alt.frontend.ui.render import render
from alt.platform.auth_wire import SETUP_PATH
from alt.platform.errors import AltError

_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_MAX_NEXT = 2048
_MESSAGES = {
    401: "The e-mail address or password is wrong.",
    403: "The form expired; please try again.",
    429: "Too many attempts; try again later.",
}


def safe_next(value: str | None) -> str:
    """A same-site path to go to after login, `/` when `value` is anything else."""
    if not value or len(value) > _MAX_NEXT:
        return "/"
    decoded = value
    for _ in range(3):  # what a browser or a proxy might decode on the way
        if not _is_local_path(decoded):
            return "/"
        decoded = unquote(decoded)
    return value if _is_local_path(decoded) else "/"


def _is_local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//") or _CONTROL.search(value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


async def form_fields(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise AltError(415, "unsupported_media_type", "Send the form as a form.")
    fields = parse_qs((await request.body()).decode(errors="replace"), max_num_fields=10)
    return {key: values[0] for key, values in fields.items()}


def login_page(
    request: Request,
    csrf: str,
    next_path: str,
    message: str | None = None,
    status: int = 200,
    *,
    registration: bool = False,
    email: str = "",
) -> HTMLResponse:
    """The login form; `registration` adds the "create an account" link; `email` (after a
    failed attempt, e.g. one that lacked the two-factor code) fills its field again."""
    context = {
        "csrf": csrf,
        "value": next_path,
        "message": message,
        "registration": registration,
        "email": email,
    }
    return render(request, "login.html", context, status=status)


async def registration_open(request: Request) -> bool:
    """Whether the admin lets people register (False when auth-service cannot say)."""
    answer = await call_auth(request, "GET", "/v1/auth/settings")
    return answer.status_code == 200 and json_or_empty(answer).get("registration_open") is True


def setup_page(
    request: Request, csrf: str, token: str, message: str | None = None, status: int = 200
) -> HTMLResponse:
    """The first admin's account, from the one-time setup link that `alt up` prints."""
    context = {"csrf": csrf, "value": token, "message": message, "action": SETUP_PATH}
    return render(request, "setup.html", context, status=status)


Page = Callable[[Request, str, str, str | None, int], Response]
"""A form page: (request, CSRF token, the form's own hidden value, message, status)."""


async def fresh_form(
    request: Request, page: Page, value: str, message: str | None = None, status: int = 200
) -> Response:
    """`page` with a CSRF token for this browser (a pre-session's when not logged in)."""
    answer = await call_auth(request, "POST", "/v1/auth/csrf")
    if answer.status_code != 200:
        response = page(request, "", value, _MESSAGES[429], 429)
    else:
        response = page(request, answer.json()["csrf_token"], value, message, status)
    apply_cookies(answer, response, edge_of(request))
    return response


async def submit_form(
    request: Request,
    path: str,
    payload: dict[str, Any],
    *,
    csrf: str,
    page: Page,
    value: str,
    done: str,
) -> Response:
    """Send a form to auth-service: on success go to `done`, else show `page` again, with a
    fresh CSRF token if that was what failed."""
    answer = await call_auth(
        request,
        "POST",
        path,
        json=payload,
        csrf=csrf,
        headers={"content-type": "application/json"},
    )
    if answer.is_success:
        response: Response = RedirectResponse(done, status_code=303)
    elif answer.status_code == 403 and json_or_empty(answer).get("code") == "csrf_failed":
        response = await fresh_form(request, page, value, _MESSAGES[403], 403)
    else:
        message = json_or_empty(answer).get("message") or _MESSAGES.get(answer.status_code)
        response = page(request, csrf, value, message, answer.status_code)
    apply_cookies(answer, response, edge_of(request))
    return response


async def logged_in(request: Request) -> bool:
    edge = edge_of(request)
    token = request.cookies.get(edge.session_cookie)
    if not token:
        return False
    answer = await call_auth(
        request,
        "POST",
        "/v1/auth/validate",
        json={"session_token": token[:128]},
        headers={"content-type": "application/json"},
    )
    return answer.status_code == 200


def login_url(path: str) -> str:
    """Where a page that needs a login sends the browser."""
    return "/login?" + urlencode({"next": safe_next(path)})


def router(route_class: type[Any], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, tags=["pages"], dependencies=list(dependencies))

    @r.get("/login")
    async def show_login(request: Request, next: str | None = None) -> Response:
        if await logged_in(request):
            return RedirectResponse(safe_next(next), status_code=303)
        page = partial(login_page, registration=await registration_open(request))
        return await fresh_form(request, page, safe_next(next))

    @r.post("/login")
    async def submit_login(request: Request) -> Response:
        fields = await form_fields(request)
        next_path = safe_next(fields.get("next"))
        credentials = {
            "email": fields.get("email", "")[:320],
            "password": fields.get("password", "")[:1024],
            "code": "".join(fields.get("code", "").split())[:64] or None,
        }
        page = partial(
            login_page,
            registration=await registration_open(request),
            email=credentials["email"] or "",
        )
        return await submit_form(
            request,
            "/v1/auth/login",
            credentials,
            csrf=fields.get("csrf_token", "")[:128],
            page=page,
            value=next_path,
            done=next_path,
        )

    @r.get(SETUP_PATH)
    async def show_setup(request: Request, token: str = "") -> Response:
        return await fresh_form(request, setup_page, token[:128])

    @r.post(SETUP_PATH)
    async def submit_setup(request: Request) -> Response:
        fields = await form_fields(request)
        token, csrf = fields.get("token", "")[:128], fields.get("csrf_token", "")[:128]
        if fields.get("password") != fields.get("password_again"):
            return setup_page(request, csrf, token, "The passwords differ.", 422)
        admin = {
            "token": token,
            "email": fields.get("email", "")[:320],
            "password": fields.get("password", "")[:1024],
        }
        return await submit_form(
            request, "/v1/auth/setup", admin, csrf=csrf, page=setup_page, value=token, done="/"
        )

    @r.post("/logout")
    async def submit_logout(request: Request) -> Response:
        fields = await form_fields(request)
        answer = await call_auth(
            request, "POST", "/v1/auth/logout", csrf=fields.get("csrf_token", "")[:128]
        )
        if answer.status_code != 200:
            raise AltError(
                answer.status_code,
                "logout_failed",
                "Could not log out; reload the page and try again.",
            )
        response = RedirectResponse("/login", status_code=303)
        apply_cookies(answer, response, edge_of(request))
        return response

    return r
