"""Reader preferences (language, theme, mark read on scroll): stored by auth-service, validated,
changed only by their owner, and part of the user's public form (the session's validation
carries them to every page)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth.conftest import Stack

DEFAULTS = {"locale": None, "theme": "system", "mark_read_on_scroll": False}


async def test_defaults_then_a_change_keeps_what_it_does_not_name(stack: Stack) -> None:
    stack.make_user("prefs@example.org")
    browser = stack.browser()
    await browser.login("prefs@example.org")
    profile = (await browser.call("GET", "/api/auth/user/profile")).json()
    assert profile["user"]["preferences"] == DEFAULTS

    changed = await browser.call(
        "PATCH", "/api/auth/user/profile", {"preferences": {"locale": "ja", "theme": "dark"}}
    )
    assert changed.status_code == 200, changed.text
    wanted = {"locale": "ja", "theme": "dark", "mark_read_on_scroll": False}
    assert changed.json()["user"]["preferences"] == wanted
    scrolled = await browser.call(
        "PATCH", "/api/auth/user/profile", {"preferences": {"mark_read_on_scroll": True}}
    )
    assert scrolled.json()["user"]["preferences"] == wanted | {"mark_read_on_scroll": True}
    automatic = await browser.call(
        "PATCH", "/api/auth/user/profile", {"preferences": {"locale": None}}
    )
    assert automatic.json()["user"]["preferences"]["locale"] is None, "back to the browser's"


async def test_the_session_validation_carries_the_preferences(stack: Stack) -> None:
    stack.make_user("carried@example.org")
    browser = stack.browser()
    await browser.login("carried@example.org")
    await browser.call("PATCH", "/api/auth/user/profile", {"preferences": {"theme": "light"}})
    async with stack.as_service("alt-frontend") as edge:
        answer = await edge.post("/v1/auth/validate", json={"session_token": browser.cookie()})
    assert answer.json()["user"]["preferences"]["theme"] == "light"


@pytest.mark.parametrize(
    "bad",
    [
        {"locale": "fr"},
        {"theme": "sepia"},
        {"theme": None},
        {"mark_read_on_scroll": "yes"},
        {"mark_read_on_scroll": 1},
        {"font": "large"},
        {"locale": ["ja"]},
    ],
)
async def test_invalid_preferences_are_refused_and_nothing_changes(
    stack: Stack, bad: dict[str, Any]
) -> None:
    email = f"invalid-{abs(hash(str(bad)))}@example.org"
    user = stack.make_user(email)
    browser = stack.browser()
    await browser.login(email)
    await browser.call("PATCH", "/api/auth/user/profile", {"preferences": {"theme": "dark"}})
    refused = await browser.call(
        "PATCH", "/api/auth/user/profile", {"preferences": {"locale": "ja", **bad}}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "validation_failed"
    stored = stack.sql("SELECT preferences FROM users WHERE id = %s", (user,))[0]["preferences"]
    assert stored == {"locale": None, "theme": "dark", "mark_read_on_scroll": False}


async def test_preferences_are_the_callers_own(stack: Stack) -> None:
    stack.make_user("mine@example.org")
    other_id = stack.make_user("theirs@example.org")
    mine, theirs = stack.browser(), stack.browser()
    await mine.login("mine@example.org")
    await theirs.login("theirs@example.org")
    await mine.call("PATCH", "/api/auth/user/profile", {"preferences": {"locale": "ja"}})
    profile = (await theirs.call("GET", "/api/auth/user/profile")).json()
    assert profile["user"]["preferences"] == DEFAULTS
    stored = stack.sql("SELECT preferences FROM users WHERE id = %s", (other_id,))
    assert stored[0]["preferences"] == {}


async def test_changing_preferences_needs_a_session_and_its_csrf_token(stack: Stack) -> None:
    stack.make_user("csrf-prefs@example.org")
    browser = stack.browser()
    await browser.login("csrf-prefs@example.org")
    forged = await browser.call(
        "PATCH", "/api/auth/user/profile", {"preferences": {"theme": "dark"}}, csrf=False
    )
    assert forged.status_code == 403
    anonymous = await stack.browser().call(
        "PATCH", "/api/auth/user/profile", {"preferences": {"theme": "dark"}}
    )
    assert anonymous.status_code == 401
    profile = (await browser.call("GET", "/api/auth/user/profile")).json()
    assert profile["user"]["preferences"]["theme"] == "system"
