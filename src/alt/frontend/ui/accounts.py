"""The account pages: registration and the profile (name, password, sessions, two-factor login,
preferences).

The pages call auth-service on behalf of the browser (its session cookie and CSRF token go
along); when auth-service opens a new session (a password change, two-factor enrolment) its
cookie reaches the browser with the answer. Secrets auth-service shows once (the two-factor
secret, recovery codes) are rendered in the answer to the POST that made them, never stored by
the edge.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from markupsafe import Markup

from alt.frontend.edge import apply_cookies, call_auth, edge_of
from alt.frontend.pages import (
    form_fields,
    fresh_form,
    logged_in,
    registration_open,
    submit_form,
)
from alt.frontend.ui.backend import answer_of
from alt.frontend.ui.render import gettext, render
from alt.frontend.ui.viewer import LoginRequired, Viewer, ViewerDep
from alt.platform.errors import AltError


def N_(message: str) -> str:
    """Marks a string for translation where it is written; it is translated where it is shown."""
    return message


SAVED = {
    "name": N_("Your name is saved."),
    "password": N_("Your password is changed; your other sessions have ended."),
    "session": N_("The session has ended."),
    "sessions": N_("Your other sessions have ended."),
    "totp-off": N_("Two-factor login is off."),
    "preferences": N_("Your preferences are saved."),
}
PASSWORDS_DIFFER = N_("The new passwords differ.")
NAME_NEEDED = N_("Enter a name.")
THEMES = ("system", "light", "dark")
LOCALES = ("en", "ja")
MAX_FIELD = 1024
NO_STORE = {"Cache-Control": "no-store"}
"""Pages that show a secret once: not kept by the browser or a cache."""


async def auth_answer(
    request: Request, viewer: Viewer, method: str, path: str, payload: Any = None
) -> tuple[Any, httpx.Response]:
    """auth-service's JSON answer to a call made for the viewer, and the answer itself (for
    its cookies); its error as an `AltError`, a lost session as `LoginRequired`."""
    # The browser's own content type is passed on unless the call sets one.
    extra: dict[str, Any] = {"headers": {"content-type": "application/json"}}
    if payload is not None:
        extra["json"] = payload
    answer = await call_auth(request, method, path, csrf=viewer.csrf, **extra)
    if answer.status_code == 401:
        raise LoginRequired
    return answer_of(answer), answer


def field(form: Any, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def notice_of(viewer: Viewer, key: str | None, notices: dict[str, str]) -> str | None:
    return gettext(viewer.locale, notices[key]) if key in notices else None


def redirect(
    path: str, answer: httpx.Response | None = None, request: Request | None = None
) -> Response:
    """303 to `path` (Post/Redirect/Get), with the cookies auth-service set in `answer`."""
    response = RedirectResponse(path, status_code=303)
    if answer is not None and request is not None:
        apply_cookies(answer, response, edge_of(request))
    return response


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code: dark on white whatever the theme, so that
    every authenticator app can read it."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, dark="#000", light="#fff", border=4, svgclass="qr", lineclass=None
    )
    return Markup(svg)  # noqa: S704 (segno's own markup, made from a URI it encodes)


def secret_of(uri: str) -> str | None:
    """The base32 secret of an `otpauth://totp/` URI; None for anything else."""
    parts = urlsplit(uri)
    if parts.scheme != "otpauth" or parts.netloc != "totp" or len(uri) > MAX_FIELD:
        return None
    secret = parse_qs(parts.query).get("secret", [""])[0]
    valid = secret.isascii() and secret.isalnum() and 16 <= len(secret) <= 128
    return secret if valid else None


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device(user_agent: str | None) -> str | None:
    """ "Firefox on Linux" from a User-Agent; None when neither part is known."""
    agent = user_agent or ""
    browser = next((name for mark, name in BROWSERS if mark in agent), None)
    system = next((name for mark, name in SYSTEMS if mark in agent), None)
    if browser and system:
        return f"{browser} · {system}"
    return browser or system


# --- registration ------------------------------------------------------------------------------


def register_page(
    request: Request, csrf: str, value: str, message: str | None = None, status: int = 200
) -> HTMLResponse:
    context = {"csrf": csrf, "message": message, "open": True}
    return render(request, "accounts/register.html", context, status=status)


def _registration_routes(r: APIRouter) -> None:
    @r.get("/register")
    async def show_register(request: Request) -> Response:
        if await logged_in(request):
            return RedirectResponse("/", status_code=303)
        if not await registration_open(request):
            return render(request, "accounts/register.html", {"open": False, "csrf": ""})
        return await fresh_form(request, register_page, "")

    @r.post("/register")
    async def submit_register(request: Request) -> Response:
        form = await form_fields(request)
        csrf = field(form, "csrf_token")[:128]
        if field(form, "password") != field(form, "password_again"):
            return register_page(request, csrf, "", "The passwords differ.", 422)
        account = {"email": field(form, "email")[:320], "password": field(form, "password")}
        return await submit_form(
            request,
            "/v1/auth/register",
            account,
            csrf=csrf,
            page=register_page,
            value="",
            done="/register/done",
        )

    @r.get("/register/done")
    async def registered(request: Request) -> HTMLResponse:
        return render(request, "accounts/registered.html")


# --- the profile -------------------------------------------------------------------------------


async def profile_page(
    request: Request,
    viewer: Viewer,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    data, _ = await auth_answer(request, viewer, "GET", "/v1/user/profile")
    context = {
        "viewer": viewer,
        "user": data["user"],
        "sessions": [s | {"device": device(s["user_agent"])} for s in data["sessions"]],
        "recovery_codes_left": data["recovery_codes_left"],
        "notice": notice,
        "errors": errors or {},
        "themes": THEMES,
        "locales": LOCALES,
    }
    return render(request, "accounts/profile.html", context, status=status)


async def profile_change(
    request: Request, viewer: Viewer, section: str, payload: dict[str, Any], saved: str
) -> Response:
    """PATCH the profile; back to the profile with `saved`'s notice, or its error in `section`."""
    try:
        _, answer = await auth_answer(request, viewer, "PATCH", "/v1/user/profile", payload)
    except AltError as exc:
        return await profile_page(request, viewer, errors={section: exc.message}, status=exc.status)
    return redirect(f"/profile?saved={saved}", answer, request)


def _profile_routes(r: APIRouter) -> None:
    @r.get("/profile")
    async def profile(request: Request, viewer: ViewerDep, saved: str | None = None) -> Response:
        return await profile_page(request, viewer, notice=notice_of(viewer, saved, SAVED))

    @r.post("/profile/name")
    async def change_name(request: Request, viewer: ViewerDep) -> Response:
        name = field(await request.form(), "display_name").strip()
        if not name:
            return await profile_page(request, viewer, errors={"name": NAME_NEEDED}, status=422)
        return await profile_change(request, viewer, "name", {"display_name": name}, "name")

    @r.post("/profile/password")
    async def change_password(request: Request, viewer: ViewerDep) -> Response:
        form = await request.form()
        if field(form, "new_password") != field(form, "new_password_again"):
            errors = {"password": PASSWORDS_DIFFER}
            return await profile_page(request, viewer, errors=errors, status=422)
        change = {
            "current_password": field(form, "current_password"),
            "new_password": field(form, "new_password"),
        }
        return await profile_change(request, viewer, "password", change, "password")

    @r.post("/profile/preferences")
    async def change_preferences(request: Request, viewer: ViewerDep) -> Response:
        form = await request.form()
        locale = field(form, "locale")
        chosen = {
            "locale": locale or None,
            "theme": field(form, "theme"),
            "mark_read_on_scroll": field(form, "mark_read_on_scroll") == "on",
        }
        return await profile_change(
            request, viewer, "preferences", {"preferences": chosen}, "preferences"
        )


def _session_routes(r: APIRouter) -> None:
    @r.post("/profile/sessions/{session_id:uuid}/end")
    async def end_session(request: Request, viewer: ViewerDep, session_id: uuid.UUID) -> Response:
        try:
            _, answer = await auth_answer(
                request, viewer, "DELETE", f"/v1/user/sessions/{session_id}"
            )
        except AltError as exc:
            return await profile_page(
                request, viewer, errors={"sessions": exc.message}, status=exc.status
            )
        return redirect("/profile?saved=session", answer, request)

    @r.post("/profile/sessions/end-others")
    async def end_other_sessions(request: Request, viewer: ViewerDep) -> Response:
        _, answer = await auth_answer(request, viewer, "DELETE", "/v1/user/sessions")
        return redirect("/profile?saved=sessions", answer, request)


def _totp_routes(r: APIRouter) -> None:
    @r.post("/profile/totp")
    async def begin_totp(request: Request, viewer: ViewerDep) -> Response:
        password = field(await request.form(), "password")
        try:
            data, _ = await auth_answer(
                request, viewer, "POST", "/v1/user/totp", {"password": password}
            )
        except AltError as exc:
            return await profile_page(
                request, viewer, errors={"totp": exc.message}, status=exc.status
            )
        return enrolment_page(request, viewer, data["uri"])

    @r.post("/profile/totp/confirm")
    async def confirm_totp(request: Request, viewer: ViewerDep) -> Response:
        form = await request.form()
        code = "".join(field(form, "code").split())[:16]
        try:
            data, answer = await auth_answer(
                request, viewer, "POST", "/v1/user/totp/confirm", {"code": code}
            )
        except AltError as exc:
            uri = field(form, "uri")
            if exc.status != 422 or secret_of(uri) is None:
                return await profile_page(
                    request, viewer, errors={"totp": exc.message}, status=exc.status
                )
            return enrolment_page(request, viewer, uri, exc.message, exc.status)
        # The enrolment opened a new session: the page's forms need its CSRF token.
        renewed = dataclasses.replace(viewer, csrf=data["csrf_token"])
        response = codes_page(request, renewed, data["recovery_codes"], enrolled=True)
        apply_cookies(answer, response, edge_of(request))
        return response

    @r.post("/profile/totp/disable")
    async def disable_totp(request: Request, viewer: ViewerDep) -> Response:
        password = {"password": field(await request.form(), "password")}
        try:
            await auth_answer(request, viewer, "DELETE", "/v1/user/totp", password)
        except AltError as exc:
            return await profile_page(
                request, viewer, errors={"totp": exc.message}, status=exc.status
            )
        return redirect("/profile?saved=totp-off")

    @r.post("/profile/totp/recovery-codes")
    async def new_recovery_codes(request: Request, viewer: ViewerDep) -> Response:
        password = {"password": field(await request.form(), "password")}
        try:
            data, _ = await auth_answer(
                request, viewer, "POST", "/v1/user/totp/recovery-codes", password
            )
        except AltError as exc:
            return await profile_page(
                request, viewer, errors={"totp": exc.message}, status=exc.status
            )
        return codes_page(request, viewer, data["recovery_codes"], enrolled=False)


def enrolment_page(
    request: Request, viewer: Viewer, uri: str, message: str | None = None, status: int = 200
) -> HTMLResponse:
    """The QR code and secret of a pending enrolment, and the form that confirms it."""
    secret = secret_of(uri)
    if secret is None:
        raise AltError(502, "bad_enrolment", "Something went wrong. Please try again.")
    context = {
        "viewer": viewer,
        "uri": uri,
        "qr": qr_svg(uri),
        "secret": grouped(secret),
        "message": message,
    }
    return render(request, "accounts/totp.html", context, status=status, headers=NO_STORE)


def codes_page(
    request: Request, viewer: Viewer, codes: list[str], *, enrolled: bool
) -> HTMLResponse:
    context = {"viewer": viewer, "codes": codes, "enrolled": enrolled}
    return render(request, "accounts/recovery_codes.html", context, headers=NO_STORE)


def router(route_class: type[APIRoute], dependencies: Sequence[Any] = ()) -> APIRouter:
    r = APIRouter(route_class=route_class, dependencies=list(dependencies), include_in_schema=False)
    _registration_routes(r)
    _profile_routes(r)
    _session_routes(r)
    _totp_routes(r)
    return r
