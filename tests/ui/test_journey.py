"""A reader's first day with Alt, end to end in a real browser against `alt up`: every service
in its own process over the embedded PostgreSQL, feeds and article pages served by a local
news site (tests/ui/site.py), summaries by the extractive engine (the local model is too slow
for a test; it is exercised by the summaries tests).

The admin is created with the setup link `alt up` prints and opens registration; a new reader
registers, subscribes to the site and picks its second feed, reads the unread list, opens an
article with its full text and summary, stars it, uses the keyboard, marks all read, exports
and imports OPML, turns on two-factor login and logs in with it, reads offline after a reload
(the service worker) and logs out. Every main page is saved as screenshots at phone and desktop
widths, light and dark (`journey-*` under build/screenshots).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.auth.conftest import PASSWORD
from tests.helpers import serving
from tests.support.waiting import until
from tests.test_up import alt_up, setup_link, up_env  # noqa: F401 (up_env: a fixture)
from tests.ui.conftest import REPORT_CSP_VIOLATIONS, axe_violations, screenshots
from tests.ui.site import FEEDS, NewsSite
from tests.ui.test_accounts import code_at

ADMIN = "admin@example.org"
READER = "reader@example.org"
READY_WITHIN_S = 180.0
SAVED_IN_A_CACHE = """async (url) => {
  for (const name of await caches.keys()) {
    if (await (await caches.open(name)).match(url)) return true;
  }
  return false;
}"""


def text_of(path: Path) -> str:
    return path.read_text()


def opml_file(folder: Path, feed_url: str) -> Path:
    opml = folder / "more.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>More</title></head><body>'
        f'<outline text="News" type="rss" xmlUrl="{feed_url}"/></body></opml>'
    )
    return opml


@pytest.fixture
async def site() -> AsyncIterator[NewsSite]:
    made = NewsSite()
    async with serving({made.port: made.app}):
        yield made


class Journey:
    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.problems.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def click(self, role: str, name: str) -> None:
        async with self.page.expect_navigation():
            await self.page.get_by_role(role, name=name, exact=True).first.click()  # type: ignore[arg-type]

    async def log_in(self, email: str, code: str | None = None) -> None:
        await self.goto("/login")
        await self.page.fill("#email", email)
        await self.page.fill("#password", PASSWORD)
        if code:
            await self.page.fill("#code", code)
        await self.click("button", "Log in")
        assert self.page.url == self.base + "/", await self.page.inner_text("main")

    async def log_out(self) -> None:
        await self.click("button", "Log out")
        assert self.page.url.startswith(self.base + "/login")

    async def checked(self, name: str) -> None:
        """The page passes axe and is saved as screenshots."""
        assert await axe_violations(self.page) == [], name
        await screenshots(self.page, f"journey-{name}")


@pytest.mark.timeout(600)
async def test_a_readers_first_day(
    up_env: dict[str, str],  # noqa: F811
    site: NewsSite,
    chromium: Browser,
    tmp_path: Path,
) -> None:
    up_env |= {
        "ALT_LLM_ENGINE": "extractive",
        "ALT_FETCH_ALLOW_PRIVATE_HOSTS": f"127.0.0.1:{site.port}",
    }
    with alt_up(up_env) as up:
        base = await asyncio.to_thread(up.wait_ready)
        context = await chromium.new_context(viewport={"width": 1280, "height": 800})
        await context.add_init_script(REPORT_CSP_VIOLATIONS)
        journey = Journey(await context.new_page(), base)
        page = journey.page

        # The admin, from the link `alt up` printed, opens registration.
        link = setup_link(up)
        assert link is not None
        await page.goto(link)
        await journey.checked("setup")
        await page.fill("#email", ADMIN)
        await page.fill("#password", PASSWORD)
        await page.fill("#password_again", PASSWORD)
        await journey.click("button", "Create the admin")
        await journey.goto("/admin/users")
        await journey.click("button", "Open registration")
        await journey.checked("admin-users")
        await journey.log_out()

        # A new reader registers and logs in.
        await journey.goto("/register")
        await journey.checked("register")
        await page.fill("#email", READER)
        await page.fill("#password", PASSWORD)
        await page.fill("#password_again", PASSWORD)
        await journey.click("button", "Create the account")
        await journey.log_in(READER)

        # Subscribes to the site and picks its second feed.
        await journey.goto("/subscriptions/new")
        await page.fill("#url", site.base + "/")
        await journey.click("button", "Find the feed")
        weekly_title = FEEDS["weekly"][0]
        await page.get_by_label(re.compile(weekly_title)).check()
        await journey.checked("subscribe-choice")
        await journey.click("button", "Subscribe to the chosen feed")
        await expect(page.get_by_role("status")).to_contain_text(weekly_title)
        await journey.checked("subscriptions")

        # The unread list has the feed's articles; the newest opens with its full text and summary.
        await journey.goto("/")
        items = page.locator("main .item")
        await expect(items).to_have_count(len(FEEDS["weekly"][1]))
        await journey.checked("unread")
        first = page.locator("main .item-title a").first
        article_path = await first.get_attribute("href")
        assert article_path is not None

        async def summarised() -> bool:
            await journey.goto(article_path)
            text = await page.inner_text("main")
            return "paragraph 3" in text and await page.locator(".summary-text").count() == 1

        await until(summarised, READY_WITHIN_S, "the article's full text and summary")
        await expect(page.locator(".summary .mark")).to_be_visible()
        for src in await page.locator(".reader-body img").evaluate_all("i => i.map(x => x.src)"):
            assert src.startswith(base + "/api/v1/images/"), src
        await journey.checked("article")

        # Stars it; the keyboard takes the reader to the starred list and back.
        await page.get_by_role("button", name="Star", exact=True).click()
        await expect(page.get_by_role("button", name="Unstar", exact=True)).to_be_visible()
        await journey.goto("/")
        await page.keyboard.press("?")
        await expect(page.get_by_role("dialog")).to_be_visible()
        await journey.checked("shortcuts")
        await page.keyboard.press("Escape")
        await page.keyboard.press("g")
        async with page.expect_navigation():
            await page.keyboard.press("s")
        assert page.url == base + "/starred"
        await expect(page.locator("main .item")).to_have_count(1)
        await page.keyboard.press("g")
        async with page.expect_navigation():
            await page.keyboard.press("u")
        assert page.url == base + "/"
        await page.keyboard.press("j")
        async with page.expect_navigation():
            await page.keyboard.press("o")
        assert page.url.startswith(base + "/articles/")

        # Marks all read.
        await journey.goto("/")
        await page.locator("#mark-all summary").click()
        await journey.click("button", "Mark as read")
        await expect(page.locator("main .item")).to_have_count(0)
        await journey.checked("unread-empty")

        # OPML: exports, then imports a file with the site's other feed.
        await journey.goto("/subscriptions")
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name=re.compile("Export")).click()
        exported = await (await download_info.value).path()
        assert site.feed_url("weekly") in text_of(exported)
        opml = opml_file(tmp_path, site.feed_url("news"))
        await journey.goto("/subscriptions/new")
        await page.set_input_files("#file", str(opml))
        await journey.click("button", "Import")
        await expect(page.locator("main")).to_contain_text(site.feed_url("news"))
        await journey.checked("opml-imported")

        # Stats.
        await journey.goto("/stats")
        await journey.checked("stats")

        # Two-factor login: enrols, logs out, logs in with a code.
        await journey.goto("/profile")
        await journey.checked("profile")
        await page.fill("#totp-password", PASSWORD)
        await journey.click("button", "Turn on two-factor login")
        secret = "".join((await page.locator("#secret").inner_text()).split())
        await page.fill("#totp-code", code_at(secret, -1))
        await journey.click("button", "Turn on")
        await expect(page.locator("main")).to_contain_text("Recovery codes")
        await journey.log_out()
        await journey.log_in(READER, code_at(secret))

        # Offline: the worker has saved the unread articles (the imported feed's) and serves
        # one after a reload without a network.
        await journey.goto("/")
        await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        newest = page.locator("main .item-title a").first
        title = await newest.inner_text()
        saved_path = await newest.get_attribute("href")
        assert saved_path is not None

        async def saved() -> bool:
            found: bool = await page.evaluate(SAVED_IN_A_CACHE, base + saved_path)
            return found

        await until(saved, READY_WITHIN_S, "the worker saving the unread articles")
        await journey.goto(saved_path)
        await context.set_offline(True)
        await page.reload(wait_until="commit")  # offline, the load event may never come
        await expect(page.locator("#article-title")).to_have_text(title)
        await journey.checked("article-offline")
        await context.set_offline(False)
        journey.problems[:] = [p for p in journey.problems if "ERR_INTERNET_DISCONNECTED" not in p]

        await journey.goto("/")
        await journey.log_out()
        await journey.checked("login")
        await context.close()
        up.stop()
    assert journey.problems == []
