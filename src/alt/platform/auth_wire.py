"""The wire contract between the edge (alt-frontend) and auth-service.

Browsers never reach auth-service: the edge calls it with its service token and passes what it
knows about the browser in headers of its own (the session and pre-session cookies' values, the
CSRF header, the user agent, the client's address); auth-service answers with instructions the
edge turns into cookies. Both sides also apply the same CSRF rule to state-changing requests: a
browser that says it comes from another site is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

CLIENT_IP_HEADER = "X-Alt-Client-IP"
CLIENT_UA_HEADER = "X-Alt-Client-UA"
SESSION_HEADER = "X-Alt-Session"
PRESESSION_HEADER = "X-Alt-Presession"
SET_SESSION_HEADER = "X-Alt-Set-Session"
SET_PRESESSION_HEADER = "X-Alt-Set-Presession"
CSRF_HEADER = "X-CSRF-Token"
CLEAR = "-"
"""The value of a set-cookie instruction that means: delete the cookie."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SETUP_PATH = "/setup"
"""The edge's page that a setup link (`alt up`, on an install without an admin) opens."""


def set_cookie_instruction(token: str, max_age_s: int) -> str:
    return f"{token}; max-age={max_age_s}"


def read_cookie_instruction(value: str) -> tuple[str, int] | None:
    """The token and lifetime of a set-cookie instruction; None for CLEAR."""
    if value == CLEAR:
        return None
    token, _, max_age = value.partition("; max-age=")
    return token, int(max_age or 0)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(ui_url: str, cors_origins: Iterable[str]) -> frozenset[str]:
    """The UI's own origin and the configured CORS allowlist."""
    return frozenset({origin_of(ui_url), *(origin.lower() for origin in cors_origins)})


def cross_site(
    method: str, origin: str | None, fetch_site: str | None, allowed: frozenset[str]
) -> bool:
    """True for a state-changing request that a browser says comes from another site."""
    if method.upper() in SAFE_METHODS:
        return False
    if origin is not None:
        return origin.lower() not in allowed
    return fetch_site is not None and fetch_site.lower() in {"cross-site", "same-site"}
