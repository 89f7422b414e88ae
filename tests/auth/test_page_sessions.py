"""Pages may reuse auth-service's answer about their session for a moment
(ALT_AUTH_PAGE_SESSION_REUSE_S), and only GET pages: a session revoked elsewhere stops seeing
pages within that time, a state-changing request always asks auth-service, and a logout or any
other state-changing request of a user drops the reused answers about that user's sessions at
once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from alt.frontend import service
from alt.frontend.edge import SessionAnswers
from alt.frontend.ui.route import page_route
from alt.frontend.ui.viewer import ViewerDep
from alt.platform.guarded_route import guarded_route
from alt.platform.http_app import create_app
from alt.services import SERVICES
from tests.auth.conftest import Browser, Stack
from tests.helpers import serving

REUSE_S = 5.0
"""The longest the setting allows: within it, a reused answer would still stand."""
DEADLINE_S = REUSE_S + 20.0
"""Room for a loaded machine; the exact lifetime is checked with a clock of the test's own
(`test_an_answer_stands_for_its_lifetime_only`)."""
PROBE = "/probe-viewer"


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    return {"ALT_AUTH_PAGE_SESSION_REUSE_S": str(REUSE_S)}


@pytest.fixture(scope="module")
def served() -> tuple[str, ...]:
    return ("auth-service",)


@pytest.fixture(scope="module")
async def edge(stack: Stack) -> AsyncIterator[None]:
    """The real edge with one more page, served for GET and for a form's POST: it needs a
    viewer, as the UI's pages and forms do, and nothing else."""
    route_class = page_route(guarded_route(service.report_probe, service.response_headers))
    probe = APIRouter(route_class=route_class)

    @probe.api_route(PROBE, methods=["GET", "POST"])
    async def who(request: Request, viewer: ViewerDep) -> PlainTextResponse:
        return PlainTextResponse(viewer.user["email"])

    parts = service.parts(stack.settings)
    parts.routers.insert(1, probe)
    app = create_app(SERVICES["alt-frontend"], stack.settings, parts)
    async with serving({stack.settings.service_port("alt-frontend"): app}):
        yield


async def logged_in(stack: Stack, email: str) -> Browser:
    browser = stack.browser()
    assert (await browser.login(email)).status_code == 200
    return browser


async def reader(stack: Stack, name: str) -> tuple[str, Browser]:
    email = f"{name}@example.org"
    stack.make_user(email)
    return email, await logged_in(stack, email)


async def status_of(browser: Browser) -> int:
    return (await browser.http.get(PROBE)).status_code


def sent_to_login(status: int, location: str | None) -> bool:
    return status == 303 and (location or "").startswith("/login")


async def end_sessions_elsewhere(stack: Stack, email: str) -> None:
    elsewhere = await logged_in(stack, email)
    assert (await elsewhere.call("DELETE", "/api/auth/user/sessions")).status_code == 200


# ---------------------------------------------------------------------------------------------
# The store itself, on a clock of the test's own
# ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_stands_for_its_lifetime_only() -> None:
    clock = Clock()
    answers = SessionAnswers(2.0, clock=clock)
    answers.put("session-a", answer("a"), answers.generation)
    clock.now += 1.9
    assert answers.get("session-a") == answer("a")
    assert answers.get("session-b") is None
    clock.now += 0.1
    assert answers.get("session-a") is None


def answer(user_id: str) -> dict[str, Any]:
    return {"user": {"id": user_id}}


def test_no_lifetime_keeps_nothing() -> None:
    off = SessionAnswers(0.0)
    off.put("session-a", answer("a"), off.generation)
    assert off.get("session-a") is None


def test_forgetting_a_session_forgets_its_user_s_other_sessions() -> None:
    answers = SessionAnswers(2.0)
    for session, user in (("phone", "a"), ("laptop", "a"), ("other", "b")):
        answers.put(session, answer(user), answers.generation)
    answers.forget("laptop")
    assert answers.get("phone") is None
    assert answers.get("other") == answer("b")
    answers.forget_user("b")
    assert answers.get("other") is None
    answers.put("again", answer("c"), answers.generation)
    answers.clear()
    assert answers.get("again") is None


def test_an_answer_asked_for_before_a_change_is_not_kept_after_it() -> None:
    """A page's session check that raced a logout or a settings change must not store the
    answer from before it."""
    answers = SessionAnswers(2.0)
    asked_at = answers.generation
    answers.forget_user("someone")  # a change lands while the check is on its way
    answers.put("session-a", answer("a"), asked_at)
    assert answers.get("session-a") is None
    answers.put("session-a", answer("a"), answers.generation)
    assert answers.get("session-a") == answer("a")


def test_the_store_is_bounded_and_keyed_by_hashes() -> None:
    answers = SessionAnswers(2.0, size=2)
    for name in ("first", "second", "third"):
        answers.put(f"token-{name}", answer(name), answers.generation)
    assert answers.get("token-first") is None  # the oldest went
    assert answers.get("token-third") == answer("third")
    assert not any(b"token" in key for key in answers._answers)


# ---------------------------------------------------------------------------------------------
# Through the real edge and auth-service
# ---------------------------------------------------------------------------------------------


async def test_a_revoked_session_stops_seeing_pages_once_its_reused_answer_expires(
    stack: Stack, edge: None
) -> None:
    email, browser = await reader(stack, "revoked")
    assert await status_of(browser) == 200  # an answer to reuse
    await end_sessions_elsewhere(stack, email)
    async with asyncio.timeout(DEADLINE_S):
        while True:
            page = await browser.http.get(PROBE)
            if sent_to_login(page.status_code, page.headers.get("location")):
                break
            assert page.status_code == 200
            await asyncio.sleep(0.2)  # polling interval, not a barrier


async def test_a_state_changing_request_always_asks_auth_service(stack: Stack, edge: None) -> None:
    email, browser = await reader(stack, "unsafe")
    form = {"csrf_token": browser.csrf or ""}
    assert (await browser.http.post(PROBE, data=form)).text == email
    assert await status_of(browser) == 200  # an answer GETs would reuse
    await end_sessions_elsewhere(stack, email)
    refused = await browser.http.post(PROBE, data=form)
    assert sent_to_login(refused.status_code, refused.headers.get("location"))
    # ... and it dropped the answer GET pages were reusing.
    page = await browser.http.get(PROBE)
    assert sent_to_login(page.status_code, page.headers.get("location"))


async def test_logging_out_drops_the_reused_answer_at_once(stack: Stack, edge: None) -> None:
    _, browser = await reader(stack, "leaving")
    assert await status_of(browser) == 200
    cookie = browser.cookie()
    assert cookie
    out = await browser.http.post("/logout", data={"csrf_token": browser.csrf or ""})
    assert out.status_code == 303
    browser.http.cookies.set("alt_session", cookie)  # the old cookie, replayed
    page = await browser.http.get(PROBE)
    assert sent_to_login(page.status_code, page.headers.get("location"))


async def test_a_page_request_with_a_wrong_csrf_token_is_refused_while_gets_are_reused(
    stack: Stack, edge: None
) -> None:
    _, browser = await reader(stack, "forged")
    assert await status_of(browser) == 200
    forged = await browser.http.post(PROBE, data={"csrf_token": "not-the-token"})
    assert forged.status_code == 403


async def test_ending_the_other_sessions_ends_their_reused_answers_at_once(
    stack: Stack, edge: None
) -> None:
    email, phone = await reader(stack, "two-devices")
    laptop = await logged_in(stack, email)
    assert await status_of(phone) == 200
    assert await status_of(laptop) == 200  # both answers reused from here on
    assert (await laptop.call("DELETE", "/api/auth/user/sessions")).status_code == 200
    ended = await phone.http.get(PROBE)
    assert sent_to_login(ended.status_code, ended.headers.get("location"))
    assert await status_of(laptop) == 200
