"""alt-backend served for real on loopback with auth-service, the edge (alt-frontend), the
pre-processor (which discovers feeds for subscribe) and a feed origin; each test module gets its
own app and auth databases. Users log in through the edge like a browser (tests.auth's
`Browser`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from alt.config import Settings
from alt.platform.identity import USER_TOKEN_HEADER
from alt.platform.migrate import migrate
from alt.services import Database
from tests.auth.conftest import (  # noqa: F401 (fresh_limits: an autouse fixture)
    PASSWORD,
    Browser,
    Stack,
    fresh_limits,
)
from tests.backend.support import FeedOrigin
from tests.helpers import free_port, loopback_urls, running, with_overrides

CORPUS = Path(__file__).parent / "corpus"
# Every per-user table of the application database.
# Another loopback address where nothing listens: feeds there fail at once, without DNS and
# without queueing behind the origin's feeds in the fetcher's per-host limit.
DEAD_HOST = "127.0.0.3"
USER_TABLES = ("subscriptions", "categories", "read_states", "favorites", "inoreader_accounts")


@dataclass
class BackendStack(Stack):
    app_db: str = ""
    origin: FeedOrigin | None = None
    dead_url: str = ""
    dead_base: str = ""

    @property
    def feeds(self) -> FeedOrigin:
        assert self.origin is not None
        return self.origin

    def app(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        """Run SQL on the application database as its owner (to look, or to set up state the
        API cannot make yet)."""
        with psycopg.connect(self.app_db, autocommit=True, row_factory=dict_row) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def rows_of(self, user_id: uuid.UUID) -> dict[str, list[str]]:
        """Every row the user owns, as text, in a stable order: "byte for byte"."""
        return {
            table: [
                row["r"]
                for row in self.app(
                    f"SELECT t::text AS r FROM {table} t WHERE user_id = %s ORDER BY t::text",  # noqa: S608
                    (user_id,),
                )
            ]
            for table in USER_TABLES
        }

    async def user_token(self, browser: Browser, *, unsafe: bool = False) -> str:
        """The user token the edge would get for this browser's session (with the CSRF check
        passed when `unsafe`)."""
        async with self.as_service("alt-frontend") as edge:
            answer = await edge.post(
                "/v1/auth/validate",
                json={
                    "session_token": browser.cookie(),
                    "unsafe": unsafe,
                    "csrf_token": browser.csrf if unsafe else None,
                },
            )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["token"]
        return token

    async def direct(
        self,
        browser: Browser,
        method: str,
        path: str,
        *,
        caller: str = "alt-frontend",
        csrf_checked: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Call alt-backend itself, as `caller` would, for this browser's user; the user token
        says the CSRF token was checked for state-changing methods unless `csrf_checked`."""
        unsafe = method not in ("GET", "HEAD") if csrf_checked is None else csrf_checked
        token = await self.user_token(browser, unsafe=unsafe)
        async with self.as_service(caller, "alt-backend") as client:
            return await client.request(method, path, headers={USER_TOKEN_HEADER: token}, **kwargs)

    async def user(self, email: str) -> tuple[Browser, uuid.UUID]:
        """A new user, logged in through the edge."""
        user_id = self.make_user(email)
        browser = self.browser()
        response = await browser.login(email, PASSWORD)
        assert response.status_code == 200, response.text
        return browser, user_id


@pytest.fixture(scope="module")
def auth_db(create_database: Any) -> str:
    url: str = create_database()
    migrate(url, Database.AUTH)
    return url


@pytest.fixture(scope="module")
def app_db(create_database: Any) -> str:
    url: str = create_database()
    migrate(url, Database.APP)
    return url


@pytest.fixture(scope="module")
async def feed_origin() -> AsyncIterator[FeedOrigin]:
    origin = await FeedOrigin().start()
    yield origin
    await origin.close()


@pytest.fixture(scope="module")
def dead_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def fetch_env(feed_origin: FeedOrigin, dead_port: int) -> Iterator[None]:
    """The egress policy lets the services reach the loopback origin (and a dead port), and
    nothing else private; short timeouts keep failures quick."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "ALT_FETCH_ALLOW_PRIVATE_HOSTS",
            f"127.0.0.1:{feed_origin.port},127.0.0.1:{dead_port},{DEAD_HOST}:{dead_port}",
        )
        patch.setenv("ALT_FETCH_CONNECT_TIMEOUT_S", "2")
        patch.setenv("ALT_FETCH_READ_TIMEOUT_S", "3")
        yield


@pytest.fixture(scope="module")
def stack_settings(settings: Settings, auth_db: str, app_db: str, fetch_env: None) -> Settings:
    """Loaded once the module's environment is set, as a process loads its settings at start."""
    return with_overrides(
        settings, AUTH_DATABASE_URL=auth_db, DATABASE_URL=app_db, **loopback_urls()
    )


@pytest.fixture(scope="module")
async def stack(
    stack_settings: Settings,
    auth_db: str,
    app_db: str,
    feed_origin: FeedOrigin,
    dead_port: int,
    fetch_env: None,
) -> AsyncIterator[BackendStack]:
    """The real services: the pre-processor (discovery, and its fetcher running beside the
    tests), auth-service, alt-backend and the edge."""
    made = BackendStack(
        stack_settings,
        auth_db,
        app_db=app_db,
        origin=feed_origin,
        dead_url=f"http://127.0.0.1:{dead_port}/feed.xml",
        dead_base=f"http://{DEAD_HOST}:{dead_port}",
    )
    services = ("pre-processor", "auth-service", "alt-backend", "alt-frontend")
    async with running(stack_settings, *services):
        yield made
    for browser in made.browsers:
        await browser.http.aclose()
