"""CSRF: every state-changing route, listed from the routers themselves (AUTH-05), and the
login/registration forms' pre-session tokens and Origin checks (AUTH-06)."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from alt.auth import routes_admin, routes_auth, routes_user
from tests.auth.conftest import ADMIN_EMAIL, PASSWORD, Browser, Stack

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PRE_SESSION = {"/v1/auth/login", "/v1/auth/register", "/v1/auth/setup"}
BOOTSTRAP = {"/v1/auth/csrf"}  # hands out the token; needs none
INTERNAL = {"/v1/auth/validate", "/v1/auth/events", "/v1/auth/keys"}


def auth_service_routes() -> list[APIRoute]:
    routers = (
        routes_auth.router(APIRoute),
        routes_user.router(APIRoute),
        routes_admin.router(APIRoute),
    )
    return [route for router in routers for route in router.routes if isinstance(route, APIRoute)]


def edge_path(path: str) -> str:
    return "/api/auth/" + path.removeprefix("/v1/auth/").removeprefix("/v1/")


def state_changing() -> list[tuple[str, str]]:
    found = [
        (method, route.path)
        for route in auth_service_routes()
        for method in sorted((route.methods or set()) & UNSAFE)
        if route.path not in PRE_SESSION | BOOTSTRAP | INTERNAL
    ]
    assert len(found) >= 13, found  # the list really comes from the routers
    return found


def get_paths() -> set[str]:
    return {route.path for route in auth_service_routes() if "GET" in (route.methods or ())}


@pytest.fixture(scope="module")
async def two_users(stack: Stack) -> tuple[Browser, Browser, str, str]:
    victim = stack.make_user("victim@example.org")
    admin, other = stack.browser(), stack.browser()
    assert (await admin.login(ADMIN_EMAIL)).status_code == 200
    stack.make_user("bee@example.org")
    assert (await other.login("bee@example.org")).status_code == 200
    victim_browser = stack.browser()
    await victim_browser.login("victim@example.org")
    session = (await victim_browser.call("GET", "/api/auth/user/sessions")).json()["sessions"]
    return admin, other, str(victim), session[0]["id"]


def concrete(path: str, user_id: str, session_id: str) -> str:
    return (
        edge_path(path).replace("{user_id:uuid}", user_id).replace("{session_id:uuid}", session_id)
    )


BODY = {
    "password": PASSWORD,
    "code": "123456",
    "display_name": "x",
    "role": "user",
    "disabled": True,
    "registration_open": False,
    "email": "new@example.org",
}


# AUTH-05: every state-changing route needs this session's token.
@pytest.mark.parametrize(("method", "path"), state_changing())
async def test_state_changing_routes_need_this_sessions_csrf_token(
    stack: Stack, two_users: tuple[Browser, Browser, str, str], method: str, path: str
) -> None:
    admin, other, victim, session_id = two_users
    url = concrete(path, victim, session_id)
    before = stack.sql("SELECT id, role, disabled_at, email FROM users ORDER BY id")
    sessions = stack.sql("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL")
    missing = await admin.call(method, url, BODY, csrf=False)
    assert missing.status_code == 403, (method, url, missing.text)
    assert missing.json()["code"] == "csrf_failed"
    foreign = await admin.call(method, url, BODY, headers={"X-CSRF-Token": other.csrf or ""})
    assert foreign.status_code == 403
    assert foreign.json()["code"] == "csrf_failed"
    if path not in get_paths():
        assert (await admin.call("GET", url)).status_code == 405
    assert stack.sql("SELECT id, role, disabled_at, email FROM users ORDER BY id") == before
    assert stack.sql("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL") == sessions


@pytest.mark.parametrize("path", sorted(INTERNAL))
async def test_internal_routes_are_not_reachable_through_the_edge(stack: Stack, path: str) -> None:
    for method in ("GET", "POST"):
        response = await stack.browser().http.request(method, edge_path(path))
        assert response.status_code == 404


async def test_edge_forms_need_csrf_tokens(stack: Stack) -> None:
    browser = stack.browser()
    form = await browser.http.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    assert form.status_code == 403
    assert browser.cookie() is None
    assert (await browser.login(ADMIN_EMAIL)).status_code == 200
    logout = await browser.http.post("/logout", data={"csrf_token": "forged"})
    assert logout.status_code == 403
    assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 200
    logout = await browser.http.post("/logout", data={"csrf_token": browser.csrf})
    assert logout.status_code == 303
    assert browser.cookie() is None


async def test_login_and_register_need_the_pre_session_token(stack: Stack) -> None:
    """AUTH-06: login CSRF. A foreign page can make the browser POST, but it cannot know the
    token bound to the browser's pre-session; its own pre-session's token does not fit."""
    victim, attacker = stack.browser(), stack.browser()
    await victim.fetch_csrf()
    attackers_token = await attacker.fetch_csrf()
    credentials = {"email": ADMIN_EMAIL, "password": PASSWORD}
    for headers in ({}, {"X-CSRF-Token": attackers_token}, {"X-CSRF-Token": "x" * 43}):
        login = await victim.http.post("/api/auth/login", json=credentials, headers=headers)
        assert login.status_code == 403, headers
        register = await victim.http.post(
            "/api/auth/register",
            json={"email": "csrf@example.org", "password": PASSWORD},
            headers=headers,
        )
        assert register.status_code == 403
    assert victim.cookie() is None
    assert stack.sql("SELECT 1 FROM users WHERE email = 'csrf@example.org'") == []
    assert stack.audit("csrf.rejected")


# AUTH-06: cross-site origins are refused.
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_cross_site_posts_are_refused_even_with_a_token(
    stack: Stack, headers: dict[str, str]
) -> None:
    browser = stack.browser()
    token = await browser.fetch_csrf()
    response = await browser.http.post(
        "/api/auth/login",
        json={"email": ADMIN_EMAIL, "password": PASSWORD},
        headers={"X-CSRF-Token": token, **headers},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "cross_site"
    form = await browser.http.post(
        "/login",
        headers=headers,
        data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token},
    )
    assert form.status_code == 403
    assert browser.cookie() is None


async def test_same_origin_posts_are_accepted(stack: Stack) -> None:
    browser = stack.browser()
    token = await browser.fetch_csrf()
    response = await browser.http.post(
        "/api/auth/login",
        json={"email": ADMIN_EMAIL, "password": PASSWORD},
        headers={"X-CSRF-Token": token, "Origin": stack.edge_url, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200
