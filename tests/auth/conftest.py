"""auth-service and the edge served for real on loopback, each test module with its own auth
database, and a browser-like client that keeps cookies and the CSRF token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from alt.auth.users import create_user
from alt.config import Settings
from alt.platform.migrate import migrate
from alt.platform.service_tokens import HEADER, KeyRing, ServiceTokens
from alt.services import Database
from tests.helpers import loopback_urls, running, with_overrides

PASSWORD = "correct horse battery staple"
ADMIN_EMAIL = "admin@example.org"
OPEN_REGISTRATION = {"ALT_AUTH_REGISTRATION_OPEN": "true"}
"""auth_env of modules that register users (registration is closed by default)."""


@dataclass
class Browser:
    """What a browser does against the edge: cookies, the CSRF token, JSON calls."""

    http: httpx.AsyncClient
    csrf: str | None = None

    async def fetch_csrf(self) -> str:
        response = await self.http.post("/api/auth/csrf")
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]
        return self.csrf

    async def login(
        self, email: str, password: str = PASSWORD, code: str | None = None
    ) -> httpx.Response:
        await self.fetch_csrf()
        response = await self.http.post(
            "/api/auth/login",
            json={"email": email, "password": password, "code": code},
            headers={"X-CSRF-Token": self.csrf or ""},
        )
        if response.status_code == 200:
            self.csrf = response.json()["csrf_token"]
        return response

    async def register(self, email: str, password: str = PASSWORD) -> httpx.Response:
        await self.fetch_csrf()
        return await self.http.post(
            "/api/auth/register",
            json={"email": email, "password": password},
            headers={"X-CSRF-Token": self.csrf or ""},
        )

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if csrf and self.csrf:
            sent.setdefault("X-CSRF-Token", self.csrf)
        response = await self.http.request(method, path, json=json, headers=sent, **kwargs)
        if response.status_code == 200 and "json" in response.headers.get("content-type", ""):
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("csrf_token"), str):
                self.csrf = body["csrf_token"]
        return response

    def cookie(self, name: str = "alt_session") -> str | None:
        value: str | None = self.http.cookies.get(name)
        return value


@dataclass
class Stack:
    settings: Settings
    auth_db: str
    browsers: list[Browser] = field(default_factory=list)

    @property
    def edge_url(self) -> str:
        return self.settings.service_url("alt-frontend")

    @property
    def auth_url(self) -> str:
        return self.settings.service_url("auth-service")

    def browser(self, **kwargs: Any) -> Browser:
        browser = Browser(
            httpx.AsyncClient(
                base_url=self.edge_url, follow_redirects=False, timeout=30.0, **kwargs
            )
        )
        self.browsers.append(browser)
        return browser

    def sql(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.auth_db, autocommit=True, row_factory=dict_row) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def make_user(self, email: str, password: str = PASSWORD, *, admin: bool = False) -> uuid.UUID:
        with psycopg.connect(self.auth_db) as conn:
            return create_user(conn, email, password, admin=admin)

    def service_token(self, caller: str, audience: str = "auth-service") -> str:
        assert self.settings.service_keys_file is not None
        return ServiceTokens(caller, KeyRing.load(self.settings.service_keys_file)).issue(audience)

    def as_service(self, caller: str, audience: str = "auth-service") -> httpx.AsyncClient:
        """A client that calls a service directly, as another service of the deployment."""
        stack = self

        async def sign(request: httpx.Request) -> None:
            request.headers[HEADER] = stack.service_token(caller, audience)

        return httpx.AsyncClient(
            base_url=self.settings.service_url(audience),
            timeout=30.0,
            event_hooks={"request": [sign]},
        )

    def advance_clock(self, seconds: float) -> None:
        """Move the auth database's clock forward, as far as auth-service can tell: every stored
        time goes back by `seconds`."""
        shifts = {
            "sessions": (
                "created_at",
                "last_seen_at",
                "idle_expires_at",
                "absolute_expires_at",
                "revoked_at",
            ),
            "users": ("created_at", "updated_at", "password_changed_at", "last_login_at"),
            "presessions": ("created_at", "expires_at"),
            "auth_throttle": ("window_started_at", "locked_until"),
            "signing_keys": ("created_at", "retired_at"),
        }
        for table, columns in shifts.items():
            assignments = ", ".join(f"{c} = {c} - %(d)s * interval '1 second'" for c in columns)
            self.sql(f"UPDATE {table} SET {assignments}", {"d": seconds})  # noqa: S608

    def audit(self, event: str) -> list[dict[str, Any]]:
        return self.sql("SELECT * FROM audit_log WHERE event = %s ORDER BY id", (event,))


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    """ALT_AUTH_* settings for this module's services; modules override it."""
    return {}


@pytest.fixture(scope="module")
def served() -> tuple[str, ...]:
    """The services the module's stack runs; modules override it."""
    return ("auth-service", "alt-frontend")


@pytest.fixture(scope="module")
def seed_admin() -> bool:
    """Whether the module's auth database starts with an admin (ADMIN_EMAIL)."""
    return True


@pytest.fixture(autouse=True)
def fresh_limits(request: pytest.FixtureRequest) -> None:
    """Each test starts with no throttle counters (they are per client address, and every test
    client is 127.0.0.1)."""
    if "stack" in request.fixturenames:
        stack: Stack = request.getfixturevalue("stack")
        stack.sql("DELETE FROM auth_throttle")


@pytest.fixture(scope="module")
def auth_db(create_database: Any) -> str:
    url: str = create_database()
    migrate(url, Database.AUTH)
    return url


@pytest.fixture(scope="module")
def stack_settings(settings: Settings, auth_db: str, module_env: None) -> Settings:
    """Loaded once the module's ALT_AUTH_* are set, as a process loads its settings at start."""
    return with_overrides(settings, AUTH_DATABASE_URL=auth_db, **loopback_urls())


@pytest.fixture(scope="module")
def module_env(auth_env: dict[str, str]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in auth_env.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
async def stack(
    stack_settings: Settings,
    auth_db: str,
    module_env: None,
    seed_admin: bool,
    served: tuple[str, ...],
) -> AsyncIterator[Stack]:
    made = Stack(stack_settings, auth_db)
    if seed_admin:
        made.make_user(ADMIN_EMAIL, admin=True)
    async with running(stack_settings, *served):
        yield made
    for browser in made.browsers:
        await browser.http.aclose()
