"""The edge (alt-frontend): safe redirects after login (INC-05), forwarding headers and admin
routes (INC-04), nothing internal on the public side (AUTH-11), probes, security headers,
CORS, and browser-sent X-Alt-* headers never passed on."""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from alt.frontend.pages import safe_next
from tests.auth.conftest import ADMIN_EMAIL, PASSWORD, Stack
from tests.helpers import form_values, running

BAD_NEXT = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "javascript:alert(1)",
    "/%2F%2Fevil.example",
    "/\tevil.example",
    "/\t/evil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "http:/evil.example",
    "//evil.example/path",
    " //evil.example",
    "/\r\nLocation: https://evil.example",
]
LEAKS = [
    "Traceback",
    'File "',
    "/work/",
    "site-packages",
    "psycopg",
    "SELECT ",
    "INSERT ",
    "password_hash",
    "postgresql://",
    "Exception",
]


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    return {"ALT_AUTH_CORS_ORIGINS": "https://app.example"}


def same_origin_path(location: str, base: str) -> bool:
    target = urlsplit(urljoin(base, location))
    return (
        location.startswith("/")
        and not location.startswith(("//", "/\\"))
        and target.netloc == urlsplit(base).netloc
    )


def test_the_edge_uses_nothing_of_auth_service() -> None:
    """The edge and auth-service share only the wire contract in platform/."""
    modules = {
        node.module
        for path in Path("src/alt/frontend").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "alt.platform.auth_wire" in modules
    assert {m for m in modules if m.split(".")[:2] == ["alt", "auth"]} == set()


# INC-05: next= outside the origin goes to /.
@pytest.mark.parametrize("value", BAD_NEXT)
def test_safe_next_refuses_every_other_place(value: str) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", ["/", "/feeds", "/feeds?unread=1#top", "/a/b%20c"])
def test_safe_next_keeps_local_paths(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize("value", [*BAD_NEXT, "/feeds?x=1"])
async def test_login_redirects_only_to_same_origin_paths(stack: Stack, value: str) -> None:
    """INC-05 through the real form: the Location after login is a local path."""
    browser = stack.browser()
    page = await browser.http.get("/login", params={"next": value})
    assert page.status_code == 200
    csrf = form_values(page.text)["csrf_token"]
    response = await browser.http.post(
        "/login",
        data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": csrf, "next": value},
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert same_origin_path(location, stack.edge_url), location
    assert location == (value if value == "/feeds?x=1" else "/")
    again = await browser.http.get("/login", params={"next": value})  # already logged in
    assert again.status_code == 303
    assert same_origin_path(again.headers["location"], stack.edge_url)


async def test_failed_form_login_stays_on_the_form(stack: Stack) -> None:
    browser = stack.browser()
    page = await browser.http.get("/login")
    csrf = form_values(page.text)["csrf_token"]
    response = await browser.http.post(
        "/login",
        data={
            "email": ADMIN_EMAIL,
            "password": "wrong password!",
            "csrf_token": csrf,
            "next": "/x",
        },
    )
    assert response.status_code == 401
    assert "<form" in response.text
    assert browser.cookie() is None


async def test_forwarding_headers_do_not_open_admin_routes(stack: Stack) -> None:
    """INC-04: claiming to be local or to be someone else changes nothing."""
    stack.make_user("outsider@example.org")
    user = stack.browser()
    await user.login("outsider@example.org")
    spoof = {
        "X-Forwarded-For": "127.0.0.1",
        "X-Real-IP": "127.0.0.1",
        "Forwarded": "for=127.0.0.1",
        "X-Alt-Client-IP": "127.0.0.1",
        "X-Alt-User-Role": "admin",
    }
    for method, path in (
        ("GET", "/api/auth/user"),
        ("POST", "/api/auth/user"),
        ("PUT", "/api/auth/settings"),
    ):
        response = await user.call(method, path, {"registration_open": False}, headers=spoof)
        assert response.status_code == 403
        anonymous = await stack.browser().http.request(method, path, headers=spoof)
        assert anonymous.status_code == 401


async def test_browser_sent_x_alt_headers_are_never_believed(stack: Stack) -> None:
    browser = stack.browser()
    token = await browser.fetch_csrf()
    response = await browser.http.post(
        "/api/auth/login",
        json={"email": "ghost@example.org", "password": "wrong password!"},
        headers={
            "X-CSRF-Token": token,
            "X-Alt-Client-IP": "203.0.113.9",
            "X-Forwarded-For": "203.0.113.10",
        },
    )
    assert response.status_code == 401
    assert stack.audit("login.failed")[-1]["ip"].exploded == "127.0.0.1"
    admin = stack.browser()
    await admin.login(ADMIN_EMAIL)
    impostor = stack.browser()
    impostor_headers = {"X-Alt-Session": admin.cookie() or ""}
    profile = await impostor.http.get("/api/auth/user/profile", headers=impostor_headers)
    assert profile.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/docs",
        "/redoc",
        "/openapi.json",
        "/docs/oauth2-redirect",
        "/debug",
        "/v1/debug/csrf/health",
        "/api/auth/keys",
        "/api/auth/validate",
        "/api/auth/events",
        "/admin",
        "/api/v1/internal/users/1",
        "/.env",
        "/server-status",
    ],
)
async def test_nothing_internal_on_the_public_side(stack: Stack, path: str) -> None:
    """AUTH-11."""
    response = await stack.browser().http.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# AUTH-11: errors carry no internals.
async def test_errors_reveal_nothing_internal(stack: Stack) -> None:
    browser = stack.browser()
    token = await browser.fetch_csrf()
    answers = [
        await browser.http.post(
            "/api/auth/login",
            content=b"{not json",
            headers={"X-CSRF-Token": token, "content-type": "application/json"},
        ),
        await browser.http.post(
            "/api/auth/login", json={"email": 5}, headers={"X-CSRF-Token": token}
        ),
        await browser.http.get("/api/auth/user/not-a-uuid"),
        await browser.http.get("/api/auth/logout"),
        await browser.http.delete("/api/auth/user/sessions/xyz"),
        await browser.http.post("/login", content=b"x", headers={"content-type": "text/plain"}),
    ]
    assert [a.status_code for a in answers] == [422, 422, 404, 405, 404, 415]
    for answer in answers:
        if answer.headers["content-type"].startswith("text/html"):  # a page's error page
            assert "Send the form as a form." in answer.text
        else:
            assert set(answer.json()) == {"error", "code", "message", "details"}
        for leak in [*LEAKS, stack.auth_url, stack.auth_url.split("//")[1]]:
            assert leak not in answer.text, (leak, answer.text)


# AUTH-11: an outage behind the edge reveals nothing.
async def test_an_auth_service_outage_reveals_nothing(stack: Stack) -> None:
    from tests.helpers import free_port, with_overrides

    lonely = with_overrides(
        stack.settings,
        ALT_FRONTEND_URL=f"http://127.0.0.1:{free_port()}",
        AUTH_SERVICE_URL=f"http://127.0.0.1:{free_port()}",
    )
    async with (
        running(lonely, "alt-frontend"),
        httpx.AsyncClient(base_url=lonely.service_url("alt-frontend")) as client,
    ):
        response = await client.post("/api/auth/csrf")
        assert response.status_code == 500
        for leak in [*LEAKS, lonely.service_url("auth-service"), "ConnectError"]:
            assert leak not in response.text


@pytest.mark.parametrize(
    ("path", "headers", "reason"),
    [
        ("/?q=1%27%20OR%20%271%27%3D%271", {}, "sql_injection"),
        ("/api/auth/csrf?x=1%20UNION%20SELECT%20password_hash%20FROM%20users", {}, "sql_injection"),
        ("/search?q=%3Cscript%3Ealert(1)%3C/script%3E", {}, "xss"),
        ("/static/..%2f..%2fetc%2fpasswd", {}, "path_traversal"),
        ("/files?name=../../etc/passwd", {}, "path_traversal"),
        ("/", {"User-Agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"}, "scanner"),
        ("/login", {"User-Agent": "Mozilla/5.00 (Nikto/2.1.6)"}, "scanner"),
    ],
)
async def test_probes_are_refused_and_audited(
    stack: Stack, path: str, headers: dict[str, str], reason: str
) -> None:
    before = len(stack.audit("probe.blocked"))
    response = await stack.browser().http.get(path, headers=headers)
    assert response.status_code == 403
    blocked = stack.audit("probe.blocked")
    assert len(blocked) == before + 1
    assert blocked[-1]["details"]["reason"] == reason
    assert blocked[-1]["ip"].exploded == "127.0.0.1"


async def test_probes_in_json_bodies_but_never_in_passwords(stack: Stack) -> None:
    browser = stack.browser()
    token = await browser.fetch_csrf()
    probe = await browser.http.post(
        "/api/auth/login",
        headers={"X-CSRF-Token": token},
        json={"email": "<script>alert(1)</script>@example.org", "password": "x" * 12},
    )
    assert probe.status_code == 403
    odd_password = await browser.http.post(
        "/api/auth/login",
        headers={"X-CSRF-Token": token},
        json={"email": ADMIN_EMAIL, "password": "' OR 1=1 -- <script>"},
    )
    assert odd_password.status_code == 401


async def test_auth_service_blocks_probes_itself(stack: Stack) -> None:
    before = len(stack.audit("probe.blocked"))
    async with stack.as_service("alt-frontend") as edge:
        response = await edge.post(
            "/v1/auth/csrf?next=../../etc/passwd", headers={"X-Alt-Client-IP": "198.51.100.4"}
        )
    assert response.status_code == 403
    blocked = stack.audit("probe.blocked")
    assert len(blocked) == before + 1
    assert blocked[-1]["ip"].exploded == "198.51.100.4"


# PAR-12: a CSP on every kind of answer.
async def test_security_headers_on_every_kind_of_answer(stack: Stack) -> None:
    browser = stack.browser()
    answers = [
        await browser.http.get("/"),
        await browser.http.get("/login"),
        await browser.http.post("/api/auth/csrf"),
        await browser.http.get("/nowhere"),
        await browser.http.get("/api/auth/user/profile"),
    ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"]
        assert len(answer.headers["x-request-id"]) >= 8
        assert "strict-transport-security" not in answer.headers  # plain http here
    async with stack.as_service("alt-frontend") as direct:
        inner = await direct.post("/v1/auth/csrf")
        assert inner.headers["x-content-type-options"] == "nosniff"
        assert inner.headers["cache-control"] == "no-store"


async def test_cors_allows_only_the_allowlist(stack: Stack) -> None:
    browser = stack.browser()
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-csrf-token",
    }
    good = await browser.http.options(
        "/api/auth/login", headers={"Origin": "https://app.example", **preflight}
    )
    assert good.status_code == 204
    assert good.headers["access-control-allow-origin"] == "https://app.example"
    assert good.headers["access-control-allow-credentials"] == "true"
    bad = await browser.http.options(
        "/api/auth/login", headers={"Origin": "https://evil.example", **preflight}
    )
    assert bad.status_code == 403
    assert "access-control-allow-origin" not in bad.headers
    simple = await browser.http.get(
        "/api/auth/settings", headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in simple.headers
    listed = await browser.http.get("/api/auth/settings", headers={"Origin": "https://app.example"})
    assert listed.headers["access-control-allow-origin"] == "https://app.example"
    token = await browser.fetch_csrf()
    allowed_post = await browser.http.post(
        "/api/auth/login",
        json={"email": ADMIN_EMAIL, "password": PASSWORD},
        headers={
            "X-CSRF-Token": token,
            "Origin": "https://app.example",
            "Sec-Fetch-Site": "cross-site",
        },
    )
    assert allowed_post.status_code == 200
