"""The reader UI in a real browser: Debian's Chromium driven by Playwright, against the real
services on loopback (the backend tests' stack: pre-processor, auth-service, alt-backend and the
edge, with a feed origin).

`ui` gives each test a fresh browser context (its own cookies) with helpers: log in through the
form, run axe-core on the page, save a screenshot under `ALT_SCREENSHOTS` (default
`build/screenshots`) at phone and desktop widths. A page error, a console error or a CSP
violation fails the test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.auth.conftest import PASSWORD
from tests.backend.conftest import (  # noqa: F401 (the stack's fixtures)
    BackendStack,
    app_db,
    auth_db,
    dead_port,
    feed_origin,
    fetch_env,
    fresh_limits,
    stack,
    stack_settings,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("ALT_SCREENSHOTS", ROOT / "build" / "screenshots"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SERIOUS = ("serious", "critical")
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI);
});
"""


@cache
def axe_source() -> str:
    return AXE.read_text()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@dataclass
class UI:
    """One browser context against the stack's edge."""

    stack: BackendStack
    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.stack.edge_url

    def url(self, path: str) -> str:
        return self.base + path

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.url(path))

    async def login(self, email: str, password: str = PASSWORD, code: str | None = None) -> None:
        await self.goto("/login")
        await self.page.fill("#email", email)
        await self.page.fill("#password", password)
        if code:
            await self.page.fill("#code", code)
        async with self.page.expect_navigation():
            await self.page.click("form[action='/login'] button")

    async def new_user(self, email: str, *, admin: bool = False) -> None:
        """A user made in the auth database, logged in through the form."""
        self.stack.make_user(email, admin=admin)
        await self.login(email)

    async def axe(self) -> list[dict[str, Any]]:
        return await axe_violations(self.page)

    async def screenshots(self, name: str, *, dark: bool = True) -> list[Path]:
        return await screenshots(self.page, name, dark=dark)


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page."""
    await page.evaluate(axe_source())
    result = await page.evaluate("async () => (await axe.run(document)).violations")
    return [v for v in result if v.get("impact") in SERIOUS]


async def screenshots(page: Page, name: str, *, dark: bool = True) -> list[Path]:
    """The current page at phone and desktop widths (light, and dark when `dark`)."""
    saved: list[Path] = []
    schemes = ("light", "dark") if dark else ("light",)
    for width_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(size)
        for scheme in schemes:
            await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            path = screenshot_path(f"{name}-{width_name}-{scheme}")
            await page.screenshot(path=str(path), full_page=True)
            saved.append(path)
    await page.set_viewport_size(DESKTOP)
    await page.emulate_media(color_scheme="light")
    return saved


@pytest.fixture
async def ui(stack: BackendStack, chromium: Browser) -> AsyncIterator[UI]:  # noqa: F811
    context = await chromium.new_context(viewport=DESKTOP, locale="en-US")
    await context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = await context.new_page()
    made = UI(stack, context, page)
    page.on("pageerror", lambda error: made.problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            made.problems.append(
                f"console {message.type}: {message.text} ({message.location.get('url', '')})"
            )
            if message.type == "error"
            else None
        ),
    )
    yield made
    await context.close()
    assert made.problems == []
