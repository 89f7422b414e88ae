"""Roles (AUTH-10): admin routes refuse normal users, the last admin stays, admins never see
password hashes or session ids; role changes and disabling end the user's sessions."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from fastapi.routing import APIRoute

from alt.auth import routes_admin
from tests.auth.conftest import ADMIN_EMAIL, PASSWORD, Browser, Stack

ADMIN_ROUTES = [
    (method, route.path)
    for route in routes_admin.router(APIRoute).routes
    if isinstance(route, APIRoute)
    for method in sorted(route.methods or ())
]
ADMIN_ROUTES.append(("PUT", "/v1/auth/settings"))


@pytest.fixture(scope="module")
async def admin(stack: Stack) -> Browser:
    browser = stack.browser()
    assert (await browser.login(ADMIN_EMAIL)).status_code == 200
    return browser


def edge(path: str, user_id: uuid.UUID) -> str:
    path = path.replace("{user_id:uuid}", str(user_id))
    return "/api/auth/" + path.removeprefix("/v1/auth/").removeprefix("/v1/")


# AUTH-10: normal users get 403 on admin routes.
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_normal_users_get_403_on_every_admin_route(
    stack: Stack, method: str, path: str
) -> None:
    assert len(ADMIN_ROUTES) >= 6
    target = stack.make_user(f"target-{uuid.uuid4().hex[:8]}@example.org")
    email = f"plain-{uuid.uuid4().hex[:8]}@example.org"
    stack.make_user(email)
    user = stack.browser()
    assert (await user.login(email)).status_code == 200
    body = {
        "email": "made@example.org",
        "password": PASSWORD,
        "role": "admin",
        "disabled": True,
        "registration_open": False,
    }
    response = await user.call(
        method,
        edge(path, target),
        body,
        headers={"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"},
    )
    assert response.status_code == 403, (method, path, response.text)
    assert stack.sql("SELECT role, disabled_at FROM users WHERE id = %s", (target,)) == [
        {"role": "user", "disabled_at": None}
    ]
    assert stack.sql("SELECT 1 FROM users WHERE email = 'made@example.org'") == []
    anonymous = await stack.browser().http.request(method, edge(path, target), json=body)
    assert anonymous.status_code in (401, 403)


# AUTH-10: the last admin stays.
async def test_the_last_admin_cannot_be_removed(stack: Stack, admin: Browser) -> None:
    me = stack.sql("SELECT id FROM users WHERE email = %s", (ADMIN_EMAIL,))[0]["id"]
    for method, body in (
        ("DELETE", None),
        ("PATCH", {"role": "user"}),
        ("PATCH", {"disabled": True}),
    ):
        response = await admin.call(method, f"/api/auth/user/{me}", body)
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "last_admin"
    assert stack.sql("SELECT role, disabled_at FROM users WHERE id = %s", (me,)) == [
        {"role": "admin", "disabled_at": None}
    ]

    second = await admin.call(
        "POST",
        "/api/auth/user",
        {"email": "second-admin@example.org", "password": PASSWORD, "role": "admin"},
    )
    assert second.status_code == 201
    other = stack.browser()
    assert (await other.login("second-admin@example.org")).status_code == 200
    demoted = await other.call("PATCH", f"/api/auth/user/{me}", {"role": "user"})
    assert demoted.status_code == 200
    assert demoted.json()["role"] == "user"
    lone = second.json()["id"]
    assert (await other.call("DELETE", f"/api/auth/user/{lone}")).status_code == 409
    restored = await other.call("PATCH", f"/api/auth/user/{me}", {"role": "admin"})
    assert restored.status_code == 200
    assert (await admin.call("GET", "/api/auth/user/profile")).status_code == 401, (
        "a role change ends the user's sessions"
    )
    assert (await admin.login(ADMIN_EMAIL)).status_code == 200


async def test_admins_never_see_hashes_or_session_ids(stack: Stack, admin: Browser) -> None:
    stack.make_user("seen@example.org")
    seen = stack.browser()
    await seen.login("seen@example.org")
    listing = await admin.call("GET", "/api/auth/user")
    one = await admin.call("GET", f"/api/auth/user/{listing.json()['users'][-1]['id']}")
    public_ids = [str(row["public_id"]) for row in stack.sql("SELECT public_id FROM sessions")]
    for response in (listing, one):
        assert response.status_code == 200
        text = response.text
        assert "$argon2" not in text
        assert "password" not in text
        assert "totp_secret" not in text
        assert (seen.cookie() or "-") not in text
        assert not any(public_id in text for public_id in public_ids)
        assert not re.search(r"csrf", text)
    assert {"id", "email", "role", "disabled"} <= set(listing.json()["users"][0])
    assert json.loads(one.text)["email"]


async def test_admin_creates_disables_and_deletes_users(stack: Stack, admin: Browser) -> None:
    created = await admin.call(
        "POST", "/api/auth/user", {"email": "Made.By@Admin.EXAMPLE", "password": PASSWORD}
    )
    assert created.status_code == 201
    assert created.json()["role"] == "user"
    assert created.json()["email"] == "made.by@admin.example"
    dup = await admin.call(
        "POST", "/api/auth/user", {"email": "made.by@admin.example", "password": PASSWORD}
    )
    assert dup.status_code == 409
    user_id = created.json()["id"]
    user = stack.browser()
    assert (await user.login("made.by@admin.example")).status_code == 200
    disabled = await admin.call("PATCH", f"/api/auth/user/{user_id}", {"disabled": True})
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert (await user.call("GET", "/api/auth/user/profile")).status_code == 401
    refused = await stack.browser().login("made.by@admin.example")
    unknown = await stack.browser().login("never@admin.example")
    assert refused.status_code == unknown.status_code == 401
    assert refused.json() == unknown.json()
    await admin.call("PATCH", f"/api/auth/user/{user_id}", {"disabled": False})
    assert (await user.login("made.by@admin.example")).status_code == 200

    deleted = await admin.call("DELETE", f"/api/auth/user/{user_id}")
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "deleted"
    assert stack.sql("SELECT 1 FROM users WHERE id = %s", (user_id,)) == []
    assert stack.sql("SELECT 1 FROM sessions WHERE user_id = %s", (user_id,)) == []
    assert (await user.call("GET", "/api/auth/user/profile")).status_code == 401
    assert (await admin.call("GET", f"/api/auth/user/{user_id}")).status_code == 404
    assert stack.audit("user.deleted")[-1]["user_id"] == uuid.UUID(user_id)


# AUTH-10: registration opens only when an admin opens it.
async def test_registration_can_be_switched_on_and_off(stack: Stack, admin: Browser) -> None:
    assert (await admin.call("GET", "/api/auth/settings")).json() == {"registration_open": False}
    visitor = stack.browser()
    refused = await visitor.register("late@example.org")
    assert refused.status_code == 403
    assert refused.json()["code"] == "registration_closed"
    opened = await admin.call("PUT", "/api/auth/settings", {"registration_open": True})
    assert opened.status_code == 200
    assert (await visitor.register("late@example.org")).status_code == 202
    await admin.call("PUT", "/api/auth/settings", {"registration_open": False})
    assert (await visitor.register("later@example.org")).json()["code"] == "registration_closed"
    assert stack.sql("SELECT email FROM users WHERE email LIKE 'late%%'") == [
        {"email": "late@example.org"}
    ]
    assert stack.audit("settings.changed")
