"""The account pages in a real browser: registration (open or closed), login with two-factor
codes, the profile (password, sessions, two-factor enrolment, preferences) and the language and
theme every page takes from the profile or the browser."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import pyotp
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page

from alt.frontend.ui.accounts import device
from tests.auth.conftest import PASSWORD
from tests.backend.conftest import BackendStack
from tests.ui.conftest import UI

NEW_PASSWORD = "a brand new passphrase for alt"


def set_registration(stack: BackendStack, *, open: bool) -> None:
    stack.sql(
        "INSERT INTO app_settings (key, value) VALUES ('registration_open', %s::jsonb)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ("true" if open else "false",),
    )


async def submit(page: Page, button: Locator) -> None:
    """Click a form's button and wait for the page it leads to (no JavaScript needed)."""
    async with page.expect_navigation():
        await button.click()


def refused(ui: UI, status: int) -> None:
    """The page just loaded answered `status` (a form shown again with its error): the browser
    logs that as a console error, which is expected here and only here."""
    expected = (
        f"console error: Failed to load resource: the server responded with a status of {status} "
    )
    assert ui.problems, "the page was expected to be refused"
    assert ui.problems[-1].startswith(expected), ui.problems
    ui.problems.pop()


async def log_in(page: Page, base: str, email: str, password: str, code: str = "") -> None:
    await page.goto(base + "/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.fill("#code", code)
    await submit(page, page.locator("form[action='/login'] button"))


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


@pytest.fixture
async def second(ui: UI) -> AsyncIterator[BrowserContext]:
    """Another browser (its own cookies) against the same stack."""
    browser: Browser | None = ui.context.browser
    assert browser is not None
    context = await browser.new_context(locale="en-US")
    yield context
    await context.close()


async def test_register_when_registration_is_open(ui: UI) -> None:
    set_registration(ui.stack, open=True)
    await ui.goto("/login")
    await submit(ui.page, ui.page.get_by_role("link", name="Create an account"))
    assert ui.page.url == ui.url("/register")
    assert await ui.axe() == []
    await ui.screenshots("accounts-register")

    await ui.page.fill("#email", "newcomer@example.org")
    await ui.page.fill("#password", PASSWORD)
    await ui.page.fill("#password_again", PASSWORD + " typo")
    await submit(ui.page, ui.page.get_by_role("button", name="Create the account"))
    refused(ui, 422)
    assert await ui.page.get_by_role("alert").inner_text() == "The passwords differ."

    await ui.page.fill("#email", "newcomer@example.org")
    await ui.page.fill("#password", PASSWORD)
    await ui.page.fill("#password_again", PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="Create the account"))
    assert ui.page.url == ui.url("/register/done")
    assert "log in with it" in await ui.page.get_by_role("status").inner_text()
    assert await ui.axe() == []
    await submit(ui.page, ui.page.get_by_role("link", name="Log in").last)
    await ui.login("newcomer@example.org")
    assert ui.page.url == ui.url("/")


async def test_registration_is_refused_when_closed(ui: UI) -> None:
    set_registration(ui.stack, open=False)
    await ui.goto("/login")
    assert await ui.page.get_by_role("link", name="Create an account").count() == 0
    await ui.goto("/register")
    assert "ask its admin" in await ui.page.get_by_role("status").inner_text()
    assert await ui.page.locator("form[action='/register']").count() == 0
    assert await ui.axe() == []

    browser = ui.stack.browser()
    csrf = await browser.fetch_csrf()
    form = {"csrf_token": csrf, "email": "sneaky@example.org", "password": PASSWORD}
    refused = await browser.http.post("/register", data=form | {"password_again": PASSWORD})
    assert refused.status_code == 403
    assert "Registration is closed" in refused.text
    assert ui.stack.sql("SELECT 1 FROM users WHERE email = 'sneaky@example.org'") == []


async def test_two_factor_enrolment_login_recovery_and_switching_off(
    ui: UI, second: BrowserContext
) -> None:
    await ui.new_user("otp-ui@example.org")
    await ui.goto("/profile")
    await ui.page.fill("#totp-password", "not my password!")
    await submit(ui.page, ui.page.get_by_role("button", name="Turn on two-factor login"))
    refused(ui, 403)
    assert "password is wrong" in await ui.page.locator("#totp-error").inner_text()

    await ui.page.fill("#totp-password", PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="Turn on two-factor login"))
    assert await ui.page.locator(".qr-code svg").is_visible()
    secret = "".join((await ui.page.locator("#secret").inner_text()).split())
    assert len(secret) >= 16
    assert await ui.axe() == []
    await ui.screenshots("accounts-totp-enrol")

    await ui.page.fill("#totp-code", "000000")
    await submit(ui.page, ui.page.get_by_role("button", name="Turn on"))
    refused(ui, 422)
    assert "code is wrong" in await ui.page.locator("#confirm-error").inner_text()
    assert "".join((await ui.page.locator("#secret").inner_text()).split()) == secret

    await ui.page.fill("#totp-code", code_at(secret, -1))
    await submit(ui.page, ui.page.get_by_role("button", name="Turn on"))
    assert "shown only once" in await ui.page.get_by_role("alert").inner_text()
    codes = await ui.page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    assert await ui.axe() == []
    await ui.screenshots("accounts-recovery-codes")
    await submit(ui.page, ui.page.get_by_role("link", name="I have saved them"))
    assert "10 recovery codes left" in await ui.page.locator("#totp").inner_text()
    assert await ui.axe() == []
    await ui.page.evaluate("window.scrollTo(0, 0)")  # the link scrolled to the section
    await ui.screenshots("accounts-profile-totp-on", dark=False)

    other = await second.new_page()
    await log_in(other, ui.base, "otp-ui@example.org", PASSWORD)
    assert other.url.startswith(ui.url("/login"))
    assert "authenticator app" in await other.get_by_role("alert").inner_text()
    assert await other.input_value("#email") == "otp-ui@example.org"
    await log_in(other, ui.base, "otp-ui@example.org", PASSWORD, code_at(secret))
    assert other.url == ui.url("/")

    await other.context.clear_cookies()
    await log_in(other, ui.base, "otp-ui@example.org", PASSWORD, codes[0])
    assert other.url == ui.url("/"), "a recovery code works in the code field"
    await other.goto(ui.url("/profile"))
    assert "9 recovery codes left" in await other.locator("#totp").inner_text()

    await ui.goto("/profile")  # the enrolment ended the other sessions, not this one
    await ui.page.fill("#codes-password", PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="Turn off two-factor login"))
    assert "Two-factor login is off" in await ui.page.get_by_role("status").inner_text()
    await other.context.clear_cookies()
    await log_in(other, ui.base, "otp-ui@example.org", PASSWORD)
    assert other.url == ui.url("/"), "no code needed once it is off"


async def test_new_recovery_codes_replace_the_old_ones(ui: UI) -> None:
    await ui.new_user("codes-ui@example.org")
    await ui.goto("/profile")
    await ui.page.fill("#totp-password", PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="Turn on two-factor login"))
    secret = "".join((await ui.page.locator("#secret").inner_text()).split())
    await ui.page.fill("#totp-code", code_at(secret, -1))
    await submit(ui.page, ui.page.get_by_role("button", name="Turn on"))
    old = await ui.page.locator(".recovery-codes code").all_inner_texts()
    await ui.goto("/profile")
    await ui.page.fill("#codes-password", PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="New recovery codes"))
    new = await ui.page.locator(".recovery-codes code").all_inner_texts()
    assert len(new) == 10
    assert not set(old) & set(new)
    browser = ui.stack.browser()
    assert (await browser.login("codes-ui@example.org", code=old[0])).status_code == 401
    assert (await browser.login("codes-ui@example.org", code=new[0])).status_code == 200


async def test_password_change_then_the_old_password_is_refused(ui: UI) -> None:
    await ui.new_user("password-ui@example.org")
    await ui.goto("/profile")
    assert await ui.axe() == []
    await ui.screenshots("accounts-profile")

    await ui.page.fill("#current_password", PASSWORD)
    await ui.page.fill("#new_password", NEW_PASSWORD)
    await ui.page.fill("#new_password_again", NEW_PASSWORD + "!")
    await submit(ui.page, ui.page.get_by_role("button", name="Change the password"))
    refused(ui, 422)
    assert "differ" in await ui.page.locator("#password-error").inner_text()

    await ui.page.fill("#current_password", "not the password at all")
    await ui.page.fill("#new_password", NEW_PASSWORD)
    await ui.page.fill("#new_password_again", NEW_PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="Change the password"))
    refused(ui, 403)
    assert "password is wrong" in await ui.page.locator("#password-error").inner_text()
    assert await ui.page.evaluate("document.activeElement.id") == "current_password"

    await ui.page.fill("#current_password", PASSWORD)
    await ui.page.fill("#new_password", NEW_PASSWORD)
    await ui.page.fill("#new_password_again", NEW_PASSWORD)
    await submit(ui.page, ui.page.get_by_role("button", name="Change the password"))
    assert "password is changed" in await ui.page.get_by_role("status").inner_text()
    await ui.goto("/profile")
    assert ui.page.url == ui.url("/profile"), "this session goes on (its token was rotated)"

    browser = ui.stack.browser()
    assert (await browser.login("password-ui@example.org", PASSWORD)).status_code == 401
    assert (await browser.login("password-ui@example.org", NEW_PASSWORD)).status_code == 200


async def test_display_name_is_saved(ui: UI) -> None:
    await ui.new_user("named-ui@example.org")
    await ui.goto("/profile")
    await ui.page.fill("#display_name", "Ada")
    await submit(ui.page, ui.page.get_by_role("button", name="Save the name"))
    assert "name is saved" in await ui.page.get_by_role("status").inner_text()
    assert await ui.page.input_value("#display_name") == "Ada"


async def test_a_session_is_ended_from_another_browser(ui: UI, second: BrowserContext) -> None:
    ui.stack.make_user("sessions-ui@example.org")
    other = await second.new_page()
    await log_in(other, ui.base, "sessions-ui@example.org", PASSWORD)
    await ui.login("sessions-ui@example.org")
    await ui.goto("/profile")
    rows = ui.page.locator("table.sessions tbody tr")
    assert await rows.count() == 2
    current = ui.page.locator("table.sessions tr.current")
    assert await current.count() == 1
    assert "This session" in await current.inner_text()
    assert re.search(r"127\.0\.0\.1", await rows.first.inner_text())

    await submit(ui.page, ui.page.locator("table.sessions tr:not(.current) button"))
    assert "session has ended" in await ui.page.get_by_role("status").inner_text()
    assert await rows.count() == 1
    await other.goto(ui.url("/profile"))
    assert other.url.startswith(ui.url("/login")), "the ended session no longer works"

    await log_in(other, ui.base, "sessions-ui@example.org", PASSWORD)
    await ui.goto("/profile")
    await submit(ui.page, ui.page.get_by_role("button", name="End all other sessions"))
    assert await rows.count() == 1
    await other.goto(ui.url("/profile"))
    assert other.url.startswith(ui.url("/login"))

    await submit(ui.page, ui.page.locator("table.sessions tr.current button"))
    assert ui.page.url.startswith(ui.url("/login")), "ending this session logs out"


async def test_language_and_theme_preferences_apply_to_every_page(ui: UI) -> None:
    await ui.new_user("prefs-ui@example.org")
    await ui.goto("/profile")
    assert await ui.page.get_attribute("html", "data-theme") == "system"
    await ui.page.select_option("#locale", "ja")
    await ui.page.check("input[name=theme][value=dark]")
    await ui.page.check("#mark_read_on_scroll")
    await submit(ui.page, ui.page.get_by_role("button", name="Save the preferences"))
    assert await ui.page.get_attribute("html", "lang") == "ja"
    assert await ui.page.get_attribute("html", "data-theme") == "dark"
    assert await ui.page.get_by_role("heading", level=1).inner_text() == "プロフィール"
    assert await ui.page.is_checked("#mark_read_on_scroll")
    assert await ui.axe() == []
    await ui.screenshots("accounts-profile-ja", dark=False)  # the profile's theme: dark

    await ui.goto("/")
    assert await ui.page.get_attribute("html", "lang") == "ja"
    assert await ui.page.get_attribute("html", "data-theme") == "dark"
    assert await ui.page.get_by_role("link", name="未読").first.is_visible()

    await ui.goto("/profile")
    await ui.page.select_option("#locale", "")
    await ui.page.check("input[name=theme][value=light]")
    await submit(ui.page, ui.page.locator("form[action='/profile/preferences'] button"))
    assert await ui.page.get_attribute("html", "lang") == "en", "automatic: the browser's"
    assert await ui.page.get_attribute("html", "data-theme") == "light"


async def test_the_browsers_japanese_is_used_without_a_preference(ui: UI) -> None:
    browser: Browser | None = ui.context.browser
    assert browser is not None
    japanese = await browser.new_context(locale="ja-JP")
    try:
        page = await japanese.new_page()
        await page.goto(ui.url("/login"))
        assert await page.get_attribute("html", "lang") == "ja"
        assert await page.get_by_role("heading", level=1).inner_text() == "ログイン"
        ui.stack.make_user("ja-ui@example.org")
        await log_in(page, ui.base, "ja-ui@example.org", PASSWORD)
        await page.goto(ui.url("/profile"))
        assert await page.get_by_role("heading", level=1).inner_text() == "プロフィール"
    finally:
        await japanese.close()


async def test_the_login_form_shows_its_error_and_keeps_the_address(ui: UI) -> None:
    set_registration(ui.stack, open=True)
    ui.stack.make_user("forgetful@example.org")
    await log_in(ui.page, ui.base, "forgetful@example.org", "not the right password")
    refused(ui, 401)
    assert "password is wrong" in await ui.page.get_by_role("alert").inner_text()
    assert await ui.page.input_value("#email") == "forgetful@example.org"
    assert await ui.page.evaluate("document.activeElement.id") == "password"
    assert await ui.page.get_by_role("link", name="Create an account").is_visible()
    assert await ui.axe() == []
    await ui.screenshots("accounts-login")


@pytest.mark.parametrize(
    ("agent", "shown"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox · Linux",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
            " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari · iPhone",
        ),
        ("curl/8.5.0", None),
        (None, None),
    ],
)
def test_sessions_are_named_by_browser_and_system(agent: str | None, shown: str | None) -> None:
    assert device(agent) == shown


async def test_a_forged_enrolment_link_is_not_shown_back(stack: BackendStack) -> None:
    stack.make_user("forged@example.org")
    browser = stack.browser()
    await browser.login("forged@example.org")
    begun = await browser.call("POST", "/api/auth/user/totp", {"password": PASSWORD})
    assert begun.status_code == 200
    form = {"csrf_token": browser.csrf or "", "code": "000000"}
    for forged in ("javascript:alert(1)", "otpauth://totp/x?secret=short", "https://evil.example/"):
        answer = await browser.http.post("/profile/totp/confirm", data=form | {"uri": forged})
        assert answer.status_code == 422
        assert "code is wrong" in answer.text
        assert forged.split(":")[1] not in answer.text
        assert 'action="/profile/totp/confirm"' not in answer.text, "back to the profile"
    shown = await browser.http.post(
        "/profile/totp/confirm", data=form | {"uri": begun.json()["uri"]}
    )
    assert shown.status_code == 422
    assert 'action="/profile/totp/confirm"' in shown.text, "the real one is shown again"
    assert shown.headers["cache-control"] == "no-store"
