"""The pages every visitor sees first, in a real browser: the login page and the shell of a
logged-in page (no script or style breaks the CSP, no serious accessibility problem)."""

from __future__ import annotations

from tests.ui.conftest import UI


async def test_login_page_passes_axe_and_the_csp(ui: UI) -> None:
    await ui.goto("/")
    assert ui.page.url.startswith(ui.url("/login"))
    assert await ui.axe() == []
    await ui.screenshots("login")


async def test_a_user_logs_in_and_out_through_the_forms(ui: UI) -> None:
    await ui.new_user("shell@example.org")
    assert ui.page.url == ui.url("/")
    assert await ui.page.get_by_role("button", name="Log out").is_visible()
    assert await ui.axe() == []
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Log out").click()
    assert ui.page.url.startswith(ui.url("/login"))
    await ui.goto("/")
    assert ui.page.url.startswith(ui.url("/login"))
