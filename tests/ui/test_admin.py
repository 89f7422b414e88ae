"""The admin pages in a real browser: users (create, disable and enable, make admin, delete
after a confirmation), the registration switch and the services' status; other users get a
403 page."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator

from tests.auth.conftest import PASSWORD
from tests.ui.conftest import UI
from tests.ui.test_accounts import refused, submit


def row(ui: UI, email: str) -> Locator:
    """The users table's row of `email`."""
    owner = ui.page.locator("th", has_text=re.compile("^" + re.escape(email)))
    return ui.page.locator("table.users tbody tr").filter(has=owner)


async def test_admin_creates_disables_enables_promotes_and_deletes_a_user(ui: UI) -> None:
    await ui.new_user("boss@example.org", admin=True)
    await submit(ui.page, ui.page.get_by_role("link", name="Admin"))
    assert ui.page.url == ui.url("/admin/users")
    assert await ui.axe() == []

    await ui.page.fill("#new-email", "member@example.org")
    await ui.page.fill("#new-password", PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="Create the user"))
    assert "user is created" in await ui.page.get_by_role("status").inner_text()
    member = row(ui, "member@example.org")
    assert "User" in await member.inner_text()
    assert "Never" in await member.inner_text()
    await ui.screenshots("admin-users")
    browser = ui.stack.browser()
    assert (await browser.login("member@example.org")).status_code == 200

    await ui.page.fill("#new-email", "member@example.org")
    await ui.page.fill("#new-password", PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="Create the user"))
    refused(ui, 409)
    assert "exists already" in await ui.page.get_by_role("alert").inner_text()
    assert await ui.page.input_value("#new-email") == "member@example.org", "the form keeps it"

    await submit(ui.page, member.get_by_role("button", name="Disable"))
    assert "Disabled" in await member.inner_text()
    assert (await browser.call("GET", "/api/auth/user/profile")).status_code == 401
    assert (await ui.stack.browser().login("member@example.org")).status_code == 401
    await submit(ui.page, member.get_by_role("button", name="Enable"))
    assert "Active" in await member.inner_text()
    assert (await ui.stack.browser().login("member@example.org")).status_code == 200

    await submit(ui.page, member.get_by_role("button", name="Make admin"))
    assert "Admin" in await member.locator("td").first.inner_text()
    await submit(ui.page, member.get_by_role("button", name="Remove admin"))
    assert "User" in await member.locator("td").first.inner_text()

    await submit(ui.page, member.get_by_role("link", name="Delete…"))
    assert ui.page.url.endswith("/delete")
    assert "member@example.org" in await ui.page.get_by_role("heading", level=1).inner_text()
    assert await ui.axe() == []
    await submit(ui.page, ui.page.get_by_role("link", name="Cancel"))
    assert await member.count() == 1, "cancelling deletes nothing"
    await submit(ui.page, member.get_by_role("link", name="Delete…"))
    await submit(ui.page, ui.page.get_by_role("button", name="Delete the user"))
    assert "user is deleted" in await ui.page.get_by_role("status").inner_text()
    assert await member.count() == 0
    assert ui.stack.sql("SELECT 1 FROM users WHERE email = 'member@example.org'") == []


async def test_the_last_admin_is_kept_and_the_page_says_why(ui: UI) -> None:
    await ui.new_user("only-boss@example.org", admin=True)
    ui.stack.sql(
        "UPDATE users SET disabled_at = now() WHERE role = 'admin' AND email <> %s",
        ("only-boss@example.org",),
    )
    await ui.goto("/admin/users")
    me = row(ui, "only-boss@example.org")
    assert "You" in await me.inner_text()
    await submit(ui.page, me.get_by_role("button", name="Remove admin"))
    refused(ui, 409)
    assert "last admin" in await ui.page.get_by_role("alert").inner_text()
    assert "Admin" in await me.locator("td").first.inner_text()


async def test_admin_toggles_registration(ui: UI) -> None:
    await ui.new_user("door@example.org", admin=True)
    await ui.goto("/admin/users")
    if await ui.page.get_by_role("button", name="Close registration").count():
        await submit(ui.page, ui.page.get_by_role("button", name="Close registration"))
    await submit(ui.page, ui.page.get_by_role("button", name="Open registration"))
    assert "registration setting is saved" in await ui.page.get_by_role("status").inner_text()
    assert "Open:" in await ui.page.locator("#registration").inner_text()
    visitor = ui.stack.browser()
    assert 'action="/register"' in (await visitor.http.get("/register")).text
    assert "Create an account" in (await visitor.http.get("/login")).text

    await submit(ui.page, ui.page.get_by_role("button", name="Close registration"))
    assert "Closed:" in await ui.page.locator("#registration").inner_text()
    closed = (await visitor.http.get("/register")).text
    assert "ask its admin" in closed
    assert 'action="/register"' not in closed


async def test_status_page_is_linked_for_admins(ui: UI) -> None:
    await ui.new_user("watcher@example.org", admin=True)
    await ui.goto("/admin/users")
    await submit(ui.page, ui.page.get_by_role("link", name="Services' status"))
    assert ui.page.url == ui.url("/status")
    table = await ui.page.locator("table").inner_text()
    for service in ("auth-service", "alt-backend", "pre-processor"):
        assert service in table
    assert "up" in table
    assert await ui.axe() == []


@pytest.mark.parametrize("path", ["/admin/users", "/status"])
async def test_a_user_who_is_not_an_admin_gets_403(ui: UI, path: str) -> None:
    email = f"nosy{path.replace('/', '-')}@example.org"
    await ui.new_user(email)
    assert await ui.page.get_by_role("link", name="Admin").count() == 0
    response = await ui.goto(path)
    refused(ui, 403)
    assert response.status == 403
    assert await ui.page.get_by_role("heading", level=1).inner_text() == "Not allowed"
    assert await ui.axe() == []


async def test_admin_actions_are_refused_to_a_user_who_is_not_an_admin(ui: UI) -> None:
    victim = ui.stack.make_user("victim@example.org")
    ui.stack.make_user("mallory@example.org")
    browser = ui.stack.browser()
    await browser.login("mallory@example.org")
    csrf = {"csrf_token": browser.csrf or ""}
    attempts = {
        f"/admin/users/{victim}/change": {"change": "disable"},
        f"/admin/users/{victim}/delete": {},
        "/admin/users": {"email": "evil@example.org", "password": PASSWORD, "role": "admin"},
        "/admin/registration": {"open": "true"},
    }
    for path, form in attempts.items():
        answer = await browser.http.post(path, data=csrf | form)
        assert answer.status_code == 403, path
    assert (await browser.http.get(f"/admin/users/{victim}/delete")).status_code == 403
    users = ui.stack.sql("SELECT disabled_at FROM users WHERE id = %s", (victim,))
    assert users == [{"disabled_at": None}]
    assert ui.stack.sql("SELECT 1 FROM users WHERE email = 'evil@example.org'") == []
