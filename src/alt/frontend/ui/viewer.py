"""Who is looking at a page: the logged-in user as auth-service vouches for them.

Every page that needs a login takes a `Viewer` (the `ViewerDep` dependency). It costs one call to
auth-service, which also checks the CSRF token of a state-changing request: the `X-CSRF-Token`
header (htmx and our scripts send it) or the form's `csrf_token` field (plain forms). A GET page
may reuse an answer about its session for up to ALT_AUTH_PAGE_SESSION_REUSE_S (2 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from alt.frontend.edge import validate_session
from alt.frontend.ui.i18n import negotiate
from alt.platform.auth_wire import CSRF_HEADER, SAFE_METHODS
from alt.platform.errors import AltError

THEMES = ("system", "light", "dark")


class LoginRequired(Exception):
    """The page needs a logged-in browser; the page route sends it to the login page."""


@dataclass(frozen=True)
class Viewer:
    user: dict[str, Any]
    token: str
    """The short-lived user token that alt-backend accepts."""
    csrf: str
    """The session's CSRF token, for the forms of the page."""
    locale: str
    theme: str

    @property
    def is_admin(self) -> bool:
        return bool(self.user.get("role") == "admin")


async def form_csrf(request: Request) -> str | None:
    """The CSRF token a state-changing request carries, in its header or its form."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else None
    return None


async def current_viewer(request: Request) -> Viewer:
    unsafe = request.method.upper() not in SAFE_METHODS
    csrf = await form_csrf(request) if unsafe else None
    try:
        # A GET page may reuse a fresh answer about its session (ALT_AUTH_PAGE_SESSION_REUSE_S).
        answer = await validate_session(request, unsafe=unsafe, csrf=csrf, reuse=not unsafe)
    except AltError as exc:
        if exc.status == 401:
            raise LoginRequired from exc
        raise
    user: dict[str, Any] = answer["user"]
    preferences = user.get("preferences") or {}
    theme = preferences.get("theme")
    return Viewer(
        user=user,
        token=answer["token"],
        csrf=answer["csrf_token"],
        locale=negotiate(preferences.get("locale"), request.headers.get("accept-language")),
        theme=theme if theme in THEMES else "system",
    )


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
