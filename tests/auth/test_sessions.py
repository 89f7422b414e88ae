"""Sessions: expiry on the server (AUTH-04), refresh, logout, the profile's session list."""

from __future__ import annotations

import uuid

import psycopg

from alt.auth import purge
from tests.auth.conftest import PASSWORD, Stack

DAY = 86_400


# AUTH-04: idle and absolute expiry, enforced by the server.
async def test_idle_and_absolute_expiry_are_enforced_by_the_server(stack: Stack) -> None:
    user = stack.make_user("idle@example.org")
    browser = stack.browser()
    assert (await browser.login("idle@example.org")).status_code == 200
    row = stack.sql(
        "SELECT created_at, idle_expires_at, absolute_expires_at FROM sessions WHERE user_id = %s",
        (user,),
    )[0]
    assert (row["idle_expires_at"] - row["created_at"]).total_seconds() == 7 * DAY
    assert (row["absolute_expires_at"] - row["created_at"]).total_seconds() == 30 * DAY

    stack.advance_clock(6 * DAY)
    assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 200
    stack.advance_clock(6 * DAY)  # 12 days since login, 6 since the last activity
    assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 200
    for _ in range(2):  # active every 6 days: idle expiry keeps moving
        stack.advance_clock(6 * DAY)
        assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 200
    stack.advance_clock(5 * DAY)  # 29 days since login
    assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 200
    stack.advance_clock(2 * DAY)  # 31 days since login: past the absolute lifetime
    assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 401

    assert (await browser.login("idle@example.org")).status_code == 200
    stack.advance_clock(7 * DAY + 1)  # 7 days without activity
    assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 401


async def test_refresh_rotates_the_token_but_not_the_lifetime(stack: Stack) -> None:
    stack.make_user("refresh@example.org")
    browser = stack.browser()
    first = await browser.login("refresh@example.org")
    old_token, old_csrf = browser.cookie(), browser.csrf
    refreshed = await browser.call("POST", "/api/auth/refresh")
    assert refreshed.status_code == 200
    assert browser.cookie() != old_token
    assert refreshed.json()["csrf_token"] != old_csrf
    assert refreshed.json()["session"]["expires_at"] == first.json()["session"]["expires_at"]
    replay = stack.browser()
    replay.http.cookies.set("alt_session", old_token or "")
    assert (await replay.call("GET", "/api/auth/user/profile")).status_code == 401
    assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 200


async def test_logout_revokes_at_once(stack: Stack) -> None:
    stack.make_user("logout@example.org")
    browser = stack.browser()
    await browser.login("logout@example.org")
    token = browser.cookie()
    response = await browser.call("POST", "/api/auth/logout")
    assert response.status_code == 200
    assert browser.cookie() is None, "cookie cleared"
    replay = stack.browser()
    replay.http.cookies.set("alt_session", token or "")
    assert (await replay.call("GET", "/api/auth/user/profile")).status_code == 401
    revoked = stack.sql(
        "SELECT revoked_reason FROM sessions WHERE revoked_at IS NOT NULL"
        " AND user_id = (SELECT id FROM users WHERE email = %s)",
        ("logout@example.org",),
    )
    assert revoked == [{"revoked_reason": "logout"}]
    assert any(row["details"].get("reason") == "logout" for row in stack.audit("session.revoked"))


async def test_profile_lists_sessions_and_ends_any_or_all(stack: Stack) -> None:
    stack.make_user("many@example.org")
    laptop, phone, tablet = stack.browser(), stack.browser(), stack.browser()
    for browser in (laptop, phone, tablet):
        assert (await browser.login("many@example.org")).status_code == 200
    listed = (await laptop.call("GET", "/api/auth/user/profile")).json()["sessions"]
    assert len(listed) == 3
    assert sum(s["current"] for s in listed) == 1
    assert set(listed[0]) == {
        "id",
        "current",
        "ip",
        "user_agent",
        "created_at",
        "last_seen_at",
        "idle_expires_at",
        "absolute_expires_at",
    }
    phone_id = (await phone.call("GET", "/api/auth/user/sessions")).json()["sessions"]
    phone_id = next(s["id"] for s in phone_id if s["current"])
    ended = await laptop.call("DELETE", f"/api/auth/user/sessions/{phone_id}")
    assert ended.status_code == 200
    assert (await phone.call("GET", "/api/auth/user/profile")).status_code == 401
    assert (await tablet.call("GET", "/api/auth/user/profile")).status_code == 200

    others = await laptop.call("DELETE", "/api/auth/user/sessions")
    assert others.json()["ended"] == 1
    assert (await tablet.call("GET", "/api/auth/user/profile")).status_code == 401
    assert (await laptop.call("GET", "/api/auth/user/profile")).status_code == 200
    everything = await laptop.call("DELETE", "/api/auth/user/sessions?keep_current=false")
    assert everything.status_code == 200
    assert laptop.cookie() is None
    assert (await laptop.call("GET", "/api/auth/user/profile")).status_code == 401


async def test_sessions_of_another_user_cannot_be_ended(stack: Stack) -> None:
    stack.make_user("owner@example.org")
    stack.make_user("other@example.org")
    owner, other = stack.browser(), stack.browser()
    await owner.login("owner@example.org")
    await other.login("other@example.org")
    owner_sessions = (await owner.call("GET", "/api/auth/user/sessions")).json()["sessions"]
    response = await other.call("DELETE", f"/api/auth/user/sessions/{owner_sessions[0]['id']}")
    assert response.status_code == 404
    unknown = await other.call("DELETE", f"/api/auth/user/sessions/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert unknown.json() == response.json()
    assert (await owner.call("GET", "/api/auth/user/profile")).status_code == 200


async def test_password_change_ends_other_sessions_and_rotates_this_one(stack: Stack) -> None:
    stack.make_user("change@example.org")
    here, elsewhere = stack.browser(), stack.browser()
    await here.login("change@example.org")
    await elsewhere.login("change@example.org")
    before = here.cookie()
    wrong = await here.call(
        "PUT",
        "/api/auth/user/profile",
        {"current_password": "not my password", "new_password": "x" * 20},
    )
    assert wrong.status_code == 403
    new_password = "a much better passphrase 42"
    changed = await here.call(
        "PUT",
        "/api/auth/user/profile",
        {"current_password": PASSWORD, "new_password": new_password},
    )
    assert changed.status_code == 200, changed.text
    assert here.cookie() != before
    assert (await here.call("GET", "/api/auth/user/profile")).status_code == 200
    assert (await elsewhere.call("GET", "/api/auth/user/profile")).status_code == 401
    assert (await stack.browser().login("change@example.org")).status_code == 401
    assert (await stack.browser().login("change@example.org", new_password)).status_code == 200
    assert stack.audit("password.changed")
    weak = await here.call(
        "PUT",
        "/api/auth/user/profile",
        {"current_password": new_password, "new_password": "password1234"},
    )
    assert weak.status_code == 422


async def test_profile_update_display_name(stack: Stack) -> None:
    stack.make_user("name@example.org")
    browser = stack.browser()
    await browser.login("name@example.org")
    response = await browser.call("PUT", "/api/auth/user/profile", {"display_name": "Nam E."})
    assert response.status_code == 200
    assert response.json()["user"]["display_name"] == "Nam E."


async def test_user_parameters_never_widen_what_a_user_sees(stack: Stack) -> None:
    """INC-08 for the routes that exist: naming another user changes nothing, and an admin's
    session is not a master key for another user's own routes."""
    a = stack.make_user("a-side@example.org")
    b = stack.make_user("b-side@example.org")
    alice, bob = stack.browser(), stack.browser()
    await alice.login("a-side@example.org")
    await bob.login("b-side@example.org")
    for query in ({"user": str(b)}, {"user_id": str(b)}, {"id": str(b)}):
        profile = await alice.call("GET", "/api/auth/user/profile", params=query)
        assert profile.json()["user"]["id"] == str(a)
        listed = await alice.call("GET", "/api/auth/user/sessions", params=query)
        assert len(listed.json()["sessions"]) == 1
    bobs = (await bob.call("GET", "/api/auth/user/sessions")).json()["sessions"][0]["id"]
    admin = stack.browser()
    await admin.login("admin@example.org")
    assert (await admin.call("DELETE", f"/api/auth/user/sessions/{bobs}")).status_code == 404
    assert (await alice.call("GET", f"/api/auth/user/{b}")).status_code == 403
    assert (await bob.call("GET", "/api/auth/user/profile")).status_code == 200


async def test_housekeeping_drops_only_dead_rows(stack: Stack) -> None:
    stack.make_user("tidy@example.org")
    dead, alive = stack.browser(), stack.browser()
    await dead.login("tidy@example.org")
    await dead.call("POST", "/api/auth/logout")
    await stack.browser().fetch_csrf()
    stack.advance_clock(8 * DAY)
    await alive.login("tidy@example.org")
    async with await psycopg.AsyncConnection.connect(stack.auth_db, autocommit=True) as conn:
        await purge.tidy(conn)
    user = stack.sql("SELECT id FROM users WHERE email = 'tidy@example.org'")[0]["id"]
    assert len(stack.sql("SELECT 1 FROM sessions WHERE user_id = %s", (user,))) == 1
    assert stack.sql("SELECT 1 FROM presessions WHERE expires_at < now()") == []
    assert (await alive.call("GET", "/api/auth/user/profile")).status_code == 200
