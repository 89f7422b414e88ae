"""Logging in: lockout and limits (AUTH-01), a brute-force run, rotation at login (AUTH-03),
and what is (not) written to logs and the audit trail (AUTH-04)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from alt.auth.passwords import VERIFICATIONS
from tests.auth.conftest import ADMIN_EMAIL, OPEN_REGISTRATION, PASSWORD, Stack


@pytest.fixture(scope="module")
def auth_env() -> dict[str, str]:
    return OPEN_REGISTRATION


def verifications() -> float:
    return float(VERIFICATIONS._value.get())


# AUTH-01: limits per account and per address.
async def test_account_lockout_and_the_address_limit(stack: Stack) -> None:
    stack.make_user("alice@example.org")
    stack.make_user("bob@example.org")
    alice, bob = stack.browser(), stack.browser()
    for _ in range(5):
        assert (await alice.login("alice@example.org", "wrong password!!")).status_code == 401
    sixth = await alice.login("alice@example.org", "wrong password!!")
    assert sixth.status_code == 429
    right = await alice.login("alice@example.org")
    assert right.status_code == 429, "locked even with the right password"
    assert int(right.headers["retry-after"]) > 800
    assert stack.audit("login.locked")[-1]["details"]["email"] == "alice@example.org"
    assert (await bob.login("bob@example.org")).status_code == 200, "other accounts unaffected"
    ip_count = stack.sql("SELECT failures FROM auth_throttle WHERE scope = 'login_ip'")
    assert ip_count == [{"failures": 7}], "5 failures and 2 refusals; bob's success not counted"

    stack.advance_clock(16 * 60)  # the 15-minute window is over
    assert (await alice.login("alice@example.org")).status_code == 200
    rows = stack.sql("SELECT scope, key, failures FROM auth_throttle WHERE scope LIKE 'login_%'")
    counters = {(row["scope"], row["key"]): row["failures"] for row in rows}
    assert ("login_account", "alice@example.org") not in counters, "success resets the account"
    assert counters[("login_ip", "127.0.0.1")] == 0


# AUTH-01: the address limit holds across accounts.
async def test_the_address_limit_holds_across_accounts(stack: Stack) -> None:
    stack.make_user("carol@example.org")
    browser = stack.browser()
    for n in range(20):
        response = await browser.login(f"nobody{n}@example.org", "wrong password!!")
        assert response.status_code == 401, (n, response.text)
    assert (await browser.login("nobody99@example.org", "wrong password!!")).status_code == 429
    assert (await browser.login("carol@example.org")).status_code == 429
    # A forwarding header from the client is not believed: still the same address.
    spoofed = await browser.http.post(
        "/api/auth/login",
        json={"email": "carol@example.org", "password": PASSWORD},
        headers={
            "X-CSRF-Token": browser.csrf or "",
            "X-Forwarded-For": "203.0.113.7",
            "X-Real-IP": "203.0.113.7",
            "X-Alt-Client-IP": "203.0.113.7",
        },
    )
    assert spoofed.status_code == 429


# AUTH-01: a brute-force run is held by the limits.
async def test_brute_force_run_is_held_by_the_limits(stack: Stack) -> None:
    """200 concurrent guesses at one account: exactly 5 reach the password check, every other
    one is refused with 429, and the right password is refused too afterwards."""
    stack.make_user("dave@example.org")
    attacker = stack.browser()
    await attacker.fetch_csrf()
    before = verifications()

    async def guess(n: int) -> int:
        response = await attacker.http.post(
            "/api/auth/login",
            json={"email": "dave@example.org", "password": f"guess-{n:06d}xx"},
            headers={"X-CSRF-Token": attacker.csrf or ""},
        )
        return response.status_code

    statuses: list[int] = []
    for batch in range(10):
        statuses += await asyncio.gather(*(guess(batch * 20 + n) for n in range(20)))
    assert statuses.count(401) == 5
    assert statuses.count(429) == 195
    assert verifications() - before == 5
    assert (await attacker.login("dave@example.org")).status_code == 429
    failed = [
        row for row in stack.audit("login.failed") if row["details"]["email"] == "dave@example.org"
    ]
    assert len(failed) == 5


async def test_login_gives_a_new_session_and_csrf_token(stack: Stack) -> None:
    """AUTH-03: the pre-login identity (pre-session and its CSRF token, or an older session)
    is worth nothing after login."""
    stack.make_user("erin@example.org")
    browser = stack.browser()
    pre_csrf = await browser.fetch_csrf()
    presession = browser.cookie("alt_presession")
    assert presession
    response = await browser.http.post(
        "/api/auth/login",
        json={"email": "erin@example.org", "password": PASSWORD},
        headers={"X-CSRF-Token": pre_csrf},
    )
    assert response.status_code == 200
    session = browser.cookie()
    assert session
    assert session != presession
    assert response.json()["csrf_token"] != pre_csrf
    assert browser.cookie("alt_presession") is None, "pre-session cookie cleared"
    assert (
        stack.sql(
            "SELECT 1 FROM presessions WHERE id = %s",
            (hashlib.sha256(presession.encode()).digest(),),
        )
        == []
    )

    thief = stack.browser()
    thief.http.cookies.set("alt_session", presession)
    assert (await thief.call("GET", "/api/auth/user/profile")).status_code == 401
    browser.csrf = pre_csrf
    assert (await browser.call("POST", "/api/auth/logout")).status_code == 403

    again = await browser.login("erin@example.org")  # logging in again while logged in
    assert again.status_code == 200
    assert browser.cookie() != session
    old = stack.browser()
    old.http.cookies.set("alt_session", session)
    assert (await old.call("GET", "/api/auth/user/profile")).status_code == 401


async def test_no_session_token_in_logs_urls_or_audit(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    browser = stack.browser()
    response = await browser.login(ADMIN_EMAIL)
    assert response.status_code == 200
    await browser.call("GET", "/api/auth/user/profile")
    await browser.call("POST", "/api/auth/refresh")
    token = browser.cookie()
    assert token
    out, err = capfd.readouterr()
    digest = hashlib.sha256(token.encode()).hexdigest()
    for text in (out, err, str(stack.sql("SELECT * FROM audit_log"))):
        assert token not in text
        assert digest not in text
    assert token not in response.headers.get("location", "")


async def test_csrf_and_registration_are_rate_limited_per_address(stack: Stack) -> None:
    browser = stack.browser()
    statuses = [(await browser.http.post("/api/auth/csrf")).status_code for _ in range(121)]
    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429
    stack.sql("DELETE FROM auth_throttle")
    registrations = [(await browser.register(f"r{n}@example.org")).status_code for n in range(11)]
    assert registrations[:10] == [202] * 10
    assert registrations[10] == 429
    assert stack.sql("SELECT 1 FROM users WHERE email = 'r10@example.org'") == []


async def test_security_events_are_audited(stack: Stack) -> None:
    stack.make_user("audited@example.org")
    browser = stack.browser()
    await browser.login("audited@example.org", "wrong password!!")
    await browser.login("audited@example.org")
    await browser.call("POST", "/api/auth/logout")
    user_id = stack.sql("SELECT id FROM users WHERE email = 'audited@example.org'")[0]["id"]
    events = stack.sql(
        "SELECT event, ip, request_id FROM audit_log WHERE user_id = %s ORDER BY id", (user_id,)
    )
    assert [e["event"] for e in events] == ["login.failed", "login.ok", "session.revoked"]
    assert all(e["ip"].exploded == "127.0.0.1" and e["request_id"] for e in events)
