"""The edge's relay of alt-backend's event streams ends a stream within seconds of its session
ending (logout, sessions ended elsewhere, an admin disabling the user, a password change),
while the streams of live sessions go on."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.auth.conftest import ADMIN_EMAIL, PASSWORD, Browser, Stack

STREAM = "/api/v1/sse/feeds/stats"
DEADLINE_S = 30.0
"""Far above the re-check interval below, far below a user token's 5 minutes."""


@dataclass(frozen=True)
class Reader:
    email: str
    id: uuid.UUID
    browser: Browser


Revocation = Callable[[Stack, Reader], Awaitable[httpx.Response]]


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    return {"ALT_AUTH_STREAM_SESSION_CHECK_S": "0.2"}


@pytest.fixture(scope="module")
def served() -> tuple[str, ...]:
    return ("auth-service", "alt-backend", "alt-frontend")


async def logged_in(stack: Stack, email: str) -> Browser:
    browser = stack.browser()
    assert (await browser.login(email)).status_code == 200
    return browser


@contextlib.asynccontextmanager
async def stream(browser: Browser) -> AsyncIterator[AsyncGenerator[str, None]]:
    """The lines of the stats stream, read through the edge like a browser's EventSource."""
    async with browser.http.stream("GET", STREAM, timeout=DEADLINE_S) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async with contextlib.aclosing(response.aiter_lines()) as lines:
            yield lines


async def next_event(lines: AsyncIterator[str]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        async for line in lines:
            if line == "event: stats":
                return
    raise AssertionError("the stream ended")


async def until_the_end(lines: AsyncIterator[str]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        async for _ in lines:
            pass


async def log_out(stack: Stack, reader: Reader) -> httpx.Response:
    return await reader.browser.call("POST", "/api/auth/logout")


async def end_sessions_elsewhere(stack: Stack, reader: Reader) -> httpx.Response:
    elsewhere = await logged_in(stack, reader.email)
    return await elsewhere.call("DELETE", "/api/auth/user/sessions")


async def change_password(stack: Stack, reader: Reader) -> httpx.Response:
    elsewhere = await logged_in(stack, reader.email)
    change = {"current_password": PASSWORD, "new_password": "a quite different passphrase"}
    return await elsewhere.call("PUT", "/api/auth/user/profile", change)


async def disable_by_admin(stack: Stack, reader: Reader) -> httpx.Response:
    admin = await logged_in(stack, ADMIN_EMAIL)
    return await admin.call("PATCH", f"/api/auth/user/{reader.id}", {"disabled": True})


async def new_reader(stack: Stack) -> Reader:
    email = f"reader-{uuid.uuid4().hex[:8]}@example.org"
    user_id = stack.make_user(email)
    return Reader(email, user_id, await logged_in(stack, email))


@pytest.mark.parametrize(
    "revoke", [log_out, end_sessions_elsewhere, change_password, disable_by_admin]
)
async def test_a_stream_ends_soon_after_its_session_does(stack: Stack, revoke: Revocation) -> None:
    reader, bystander = await new_reader(stack), await new_reader(stack)
    async with stream(reader.browser) as lines, stream(bystander.browser) as other_lines:
        await next_event(lines)
        await next_event(other_lines)
        answer = await revoke(stack, reader)
        assert answer.status_code == 200, answer.text
        await until_the_end(lines)
        await next_event(other_lines)  # a live session's stream goes on meanwhile
    assert (await reader.browser.http.get(STREAM)).status_code == 401
