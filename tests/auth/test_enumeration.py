"""No enumeration (AUTH-02): unknown accounts and wrong passwords, taken and free addresses,
get the same status, body, headers and cookies, and one Argon2 verification each: the same
work, so the same time (measuring that time is a benchmark's job, not a test's). Limits are
raised in this module so that many attempts from one address are let through."""

from __future__ import annotations

import uuid

import httpx
import pytest

from alt.auth.passwords import VERIFICATIONS
from tests.auth.conftest import OPEN_REGISTRATION, Browser, Stack

VARYING = {"date", "x-request-id", "content-length"}
TRIES = 20


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    return {
        "ALT_AUTH_LOGIN_ACCOUNT_FAILURES": "100000",
        "ALT_AUTH_LOGIN_IP_FAILURES": "100000",
        "ALT_AUTH_LOGIN_IP_RATE": "100000",
        "ALT_AUTH_REGISTER_IP_RATE": "100000",
        **OPEN_REGISTRATION,
    }


def shape(response: httpx.Response) -> tuple[int, str, dict[str, str], list[str]]:
    headers = {k: v for k, v in response.headers.items() if k not in VARYING and k != "set-cookie"}
    cookies = [
        c.split("=", 1)[0] + ";" + c.split(";", 1)[-1]
        for c in response.headers.get_list("set-cookie")
    ]
    return response.status_code, response.text, headers, cookies


async def attempt(browser: Browser, email: str) -> tuple[httpx.Response, float]:
    """The answer to a wrong login, and how many Argon2 verifications it cost."""
    before = VERIFICATIONS._value.get()
    response = await browser.http.post(
        "/api/auth/login",
        json={"email": email, "password": "not the password at all"},
        headers={"X-CSRF-Token": browser.csrf or ""},
    )
    return response, VERIFICATIONS._value.get() - before


# AUTH-02: unknown account and wrong password look the same.
async def test_unknown_account_and_wrong_password_look_the_same(stack: Stack) -> None:
    stack.make_user("known@example.org")
    browser = stack.browser()
    await browser.fetch_csrf()
    for n in range(TRIES):
        known, known_checks = await attempt(browser, "known@example.org")
        unknown, unknown_checks = await attempt(browser, f"unknown{n}@example.org")
        assert known_checks == unknown_checks == 1, "exactly one Argon2 verify per attempt"
        assert shape(known) == shape(unknown)
        assert known.status_code == 401


# AUTH-02: taken and free addresses look the same.
async def test_registration_answers_the_same_for_taken_and_free_addresses(stack: Stack) -> None:
    stack.make_user("taken@example.org")
    browser = stack.browser()
    taken = await browser.register("taken@example.org")
    free = await browser.register(f"free-{uuid.uuid4().hex[:8]}@example.org")
    assert taken.status_code == free.status_code == 202
    assert shape(taken) == shape(free)
    assert taken.json()["status"] == "accepted"
    assert stack.audit("register.taken")
    assert stack.audit("register.ok")
    different_case = await browser.register("TAKEN@Example.org")
    assert shape(different_case) == shape(free)
    assert len(stack.sql("SELECT 1 FROM users WHERE lower(email) = 'taken@example.org'")) == 1
