"""The subscription pages in a real browser (and without JavaScript), against the real stack:
adding a feed with a choice among a site's feeds, errors kept in the form, a feed's settings,
categories, OPML import and export, and the list of feeds sorted by their failures."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Page, expect

from tests.backend.conftest import BackendStack
from tests.backend.test_opml import opml
from tests.support.waiting import until
from tests.ui.conftest import DESKTOP, UI


async def add_feed(ui: UI, url: str) -> None:
    """Through the add form, a URL with one feed: subscribed at once."""
    await ui.goto("/subscriptions/new")
    await ui.page.fill("#url", url)
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Find the feed").click()


def subscription_id(ui: UI) -> int:
    found = re.search(r"added=(\d+)", ui.page.url)
    assert found, ui.page.url
    return int(found.group(1))


@pytest.fixture
async def no_js(ui: UI, chromium: Chromium) -> AsyncIterator[Callable[[], Awaitable[Page]]]:
    """Opens a page with JavaScript off, logged in as `ui`'s user (its cookies copied)."""
    contexts: list[BrowserContext] = []

    async def open_page() -> Page:
        context = await chromium.new_context(viewport=DESKTOP, java_script_enabled=False)
        contexts.append(context)
        await context.add_cookies(await ui.context.cookies())  # type: ignore[arg-type]
        return await context.new_page()

    yield open_page
    for context in contexts:
        await context.close()


async def test_a_site_with_two_feeds_lets_the_reader_pick_the_second(ui: UI) -> None:
    await ui.new_user("picker@example.org")
    await ui.goto("/subscriptions/new")
    assert await ui.axe() == []
    await ui.page.fill("#url", ui.stack.feeds.url("/site/east+west/"))
    await ui.page.fill("#title", "The west")
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Find the feed").click()
    east = ui.page.get_by_role("radio", name=re.compile("Feed east"))
    west = ui.page.get_by_role("radio", name=re.compile("Feed west"))
    await expect(east).to_be_checked()
    await expect(ui.page.get_by_text(ui.stack.feeds.url("/feeds/west.xml"))).to_be_visible()
    assert await ui.page.input_value("#title") == "The west"  # kept
    assert await ui.axe() == []
    await ui.screenshots("subscriptions-new-choice")
    await west.check()
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Subscribe to the chosen feed").click()
    assert ui.page.url.startswith(ui.url("/subscriptions?added="))
    await expect(ui.page.get_by_role("status")).to_contain_text("Subscribed to “The west”.")
    feed_id = ui.stack.app(
        "SELECT id FROM feeds WHERE url = %s", (ui.stack.feeds.url("/feeds/west.xml"),)
    )[0]["id"]
    await expect(ui.page.get_by_role("link", name="Read it now")).to_have_attribute(
        "href", f"/feeds/{feed_id}"
    )
    await expect(ui.page.locator(f'[data-count-feed="{feed_id}"]')).to_have_text("25")
    assert ui.stack.app("SELECT count(*) AS n FROM feeds WHERE url LIKE %s", ("%/east.xml",)) == [
        {"n": 0}
    ]
    assert await ui.axe() == []
    await ui.screenshots("subscriptions-list")


# Listens after subscriptions.js: notes the button as the form goes and tries to send it again;
# what it saw is kept in sessionStorage, which outlives the navigation.
WATCH_SUBMITS = """
document.addEventListener("submit", (event) => {
  const seen = JSON.parse(sessionStorage.getItem("seen") || "[]");
  const button = event.target.querySelector("button");
  seen.push([button.textContent, button.getAttribute("aria-disabled"), event.defaultPrevented]);
  sessionStorage.setItem("seen", JSON.stringify(seen));
  if (seen.length === 1) setTimeout(() => event.target.requestSubmit(), 0);
});
"""


async def test_the_button_says_the_feed_is_being_looked_for_and_sends_once(ui: UI) -> None:
    await ui.new_user("patience@example.org")
    await ui.goto("/subscriptions/new")
    await ui.page.fill("#url", ui.stack.feeds.url("/slow/patience.xml"))
    await ui.page.evaluate(WATCH_SUBMITS)
    posts: list[str] = []
    ui.page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    async with ui.page.expect_navigation(url=re.compile(r"added=")):
        await ui.page.click("form.add-feed button")
    await expect(ui.page.get_by_role("status")).to_contain_text("Subscribed to “Feed patience”.")
    seen = await ui.page.evaluate("JSON.parse(sessionStorage.getItem('seen'))")
    assert seen == [
        ["Looking at the address…", "true", False],
        ["Looking at the address…", "true", True],
    ]
    assert posts == [ui.url("/subscriptions/new")]


async def test_a_changed_address_is_looked_up_again(ui: UI) -> None:
    await ui.new_user("changed@example.org")
    await ui.goto("/subscriptions/new")
    await ui.page.fill("#url", ui.stack.feeds.url("/site/up+down/"))
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Find the feed").click()
    await expect(ui.page.get_by_role("radio")).to_have_count(2)
    # Another address typed over the choice: that one is subscribed to, not the choice.
    await ui.page.fill("#url", ui.stack.feeds.url("/feeds/sideways.xml"))
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Subscribe to the chosen feed").click()
    await expect(ui.page.get_by_role("status")).to_contain_text("Subscribed to “Feed sideways”.")


async def test_feeds_already_read_cannot_be_chosen_again(ui: UI) -> None:
    await ui.new_user("again@example.org")
    for name in ("fore", "aft"):
        await add_feed(ui, ui.stack.feeds.url(f"/feeds/{name}.xml"))
    await ui.goto("/subscriptions/new")
    await ui.page.fill("#url", ui.stack.feeds.url("/site/fore+aft/"))
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Find the feed").click()
    for name in ("fore", "aft"):
        await expect(ui.page.get_by_role("radio", name=re.compile(f"Feed {name}"))).to_be_disabled()
    await expect(ui.page.get_by_text("You already read every feed of this site.")).to_be_visible()
    assert await ui.axe() == []


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("/plain.html", "No feed was found at that address."),
        ("dead", "That address could not be reached."),
        ("http://169.254.169.254/latest/", "That address is not allowed."),
        ("javascript:alert(1)", "That is not a web address that can be used."),
    ],
)
async def test_a_bad_address_is_explained_in_the_form_keeping_what_was_typed(
    ui: UI, where: str, says: str
) -> None:
    await ui.new_user(f"bad-{abs(hash(where))}@example.org")
    url = ui.stack.dead_url if where == "dead" else where
    url = ui.stack.feeds.url(url) if url.startswith("/") else url
    await ui.goto("/subscriptions/new")
    await ui.page.fill("#url", url)
    await ui.page.fill("#title", "Mine")
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Find the feed").click()
    await expect(ui.page.get_by_role("alert")).to_contain_text(says)
    assert await ui.page.input_value("#url") == url
    assert await ui.page.input_value("#title") == "Mine"
    await expect(ui.page.locator("#url")).to_have_attribute("aria-invalid", "true")
    assert await ui.axe() == []
    if where == "/plain.html":
        await ui.screenshots("subscriptions-new-problem")


async def test_rename_move_refresh_and_unsubscribe_a_feed(ui: UI) -> None:
    await ui.new_user("settings@example.org")
    await ui.goto("/categories")
    await ui.page.fill("#new-name", "Tech")
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Create").click()
    await add_feed(ui, ui.stack.feeds.url("/feeds/settings.xml"))
    made = subscription_id(ui)
    await ui.goto(f"/subscriptions/{made}")
    assert await ui.axe() == []
    await ui.screenshots("subscriptions-feed")
    await ui.page.fill("#title", "  Renamed feed ")
    await ui.page.select_option("#category_id", label="Tech")
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Save changes").click()
    await expect(ui.page.get_by_role("status")).to_have_text("Your changes are saved.")
    await expect(ui.page.get_by_role("heading", level=1)).to_have_text("Renamed feed")
    await expect(ui.page.locator("#category_id option:checked")).to_have_text("Tech")
    row = ui.stack.app("SELECT title, category_id FROM subscriptions WHERE id = %s", (made,))[0]
    assert row["title"] == "Renamed feed"
    assert row["category_id"] is not None

    feed_id = ui.stack.app("SELECT feed_id FROM subscriptions WHERE id = %s", (made,))[0]["feed_id"]
    ui.stack.app(
        "UPDATE feeds SET next_check_at = now() + interval '5 hours' WHERE id = %s", (feed_id,)
    )
    started = datetime.now(UTC)
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Refresh now").click()
    await expect(ui.page.get_by_role("status")).to_have_text(
        "The feed will be checked again in a moment."
    )

    async def checked_again() -> bool:
        state = ui.stack.app("SELECT last_checked_at FROM feeds WHERE id = %s", (feed_id,))
        return bool(state[0]["last_checked_at"] >= started)

    await until(checked_again, 30, "the fetcher checking the refreshed feed")

    # Back to the feed's own title: an empty title.
    await ui.page.fill("#title", "")
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Save changes").click()
    await expect(ui.page.get_by_role("heading", level=1)).to_have_text("Feed settings")

    await ui.page.get_by_role("link", name="Unsubscribe…").click()
    await expect(ui.page.get_by_role("heading", level=1)).to_contain_text("Feed settings")
    assert await ui.axe() == []
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Unsubscribe").click()
    await expect(ui.page.get_by_role("status")).to_have_text("You are unsubscribed.")
    assert ui.stack.app("SELECT id FROM subscriptions WHERE id = %s", (made,)) == []


async def test_categories_are_created_renamed_deleted_and_feeds_moved(ui: UI) -> None:
    await ui.new_user("folders@example.org")
    await ui.goto("/categories")
    assert await ui.axe() == []
    for name in ("Tech", "News"):
        await ui.page.fill("#new-name", name)
        async with ui.page.expect_navigation():
            await ui.page.get_by_role("button", name="Create").click()
        await expect(ui.page.get_by_role("status")).to_have_text("The category was created.")
    await ui.page.fill("#new-name", "tech")
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Create").click()
    await expect(ui.page.get_by_role("alert")).to_contain_text(
        "You already have a category with that name."
    )
    assert await ui.page.input_value("#new-name") == "tech"

    news = ui.page.locator("li", has_text="News")
    await news.get_by_role("textbox").fill("World")
    async with ui.page.expect_navigation():
        await news.get_by_role("button", name="Rename").click()
    await expect(ui.page.get_by_role("status")).to_have_text("The category was renamed.")
    await expect(ui.page.get_by_role("link", name="World")).to_be_visible()

    # Moving a feed with the select on the list of feeds: htmx swaps its row, the page stays.
    await add_feed(ui, ui.stack.feeds.url("/feeds/folders.xml"))
    made = subscription_id(ui)
    listed = ui.page.url
    await ui.page.select_option(f"#move-{made}", label="Tech")
    await ui.page.locator(f"#sub-{made}").get_by_role("button", name="Move").click()
    await expect(ui.page.locator(f"#sub-{made} .changed")).to_have_text("The feed was moved.")
    await expect(ui.page.locator(f"#move-{made} option:checked")).to_have_text("Tech")
    assert ui.page.url == listed
    assert await ui.axe() == []

    await ui.goto("/categories")
    await ui.screenshots("subscriptions-categories")
    tech = ui.page.locator("li", has_text="Tech")
    await expect(tech).to_contain_text("Feeds: 1")
    await tech.get_by_role("link", name="Delete this category…").click()
    await expect(
        ui.page.get_by_text("Its feeds (1) stay subscribed, without a category.")
    ).to_be_visible()
    assert await ui.axe() == []
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Delete category").click()
    await expect(ui.page.get_by_role("status")).to_contain_text("its feeds are now uncategorised")
    await expect(ui.page.locator("li", has_text="Tech")).to_have_count(0)
    kept = ui.stack.app("SELECT category_id FROM subscriptions WHERE id = %s", (made,))
    assert kept == [{"category_id": None}]


async def test_opml_import_reports_and_export_round_trips(ui: UI, tmp_path: Path) -> None:
    stack = ui.stack
    await ui.new_user("opml-ui@example.org")
    await add_feed(ui, stack.feeds.url("/feeds/before.xml"))
    file = tmp_path / "mine.opml"
    file.write_bytes(
        opml(
            [
                ("Reading", "One", stack.feeds.url("/feeds/one.xml")),
                (None, "Two", stack.feeds.url("/feeds/two.xml")),
                (None, "Before", stack.feeds.url("/feeds/before.xml")),
                (None, "Metadata", "http://169.254.169.254/latest/"),
            ]
        )
    )
    await ui.goto("/subscriptions/new")
    await ui.page.set_input_files("#file", str(file))
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Import").click()
    await expect(ui.page.get_by_role("status")).to_have_text("2 added, 1 skipped, 1 failed.")
    await expect(ui.page.locator("ul[aria-labelledby=added] li")).to_have_count(2)
    await expect(ui.page.locator("ul[aria-labelledby=skipped]")).to_contain_text(
        "already subscribed"
    )
    await expect(ui.page.locator("ul[aria-labelledby=failed]")).to_contain_text("169.254.169.254")
    assert await ui.axe() == []
    await ui.screenshots("subscriptions-imported")

    await ui.goto("/subscriptions")
    async with ui.page.expect_download() as waiting:
        await ui.page.get_by_role("link", name="Export OPML").click()
    download = await waiting.value
    assert download.suggested_filename == "alt-subscriptions.opml"
    exported = tmp_path / "exported.opml"
    await download.save_as(exported)
    text = exported.read_text()
    for name in ("one", "two", "before"):
        assert stack.feeds.url(f"/feeds/{name}.xml") in text
    assert 'text="Reading"' in text

    # The exported file, imported by someone else, gives them the same feeds.
    await ui.page.get_by_role("button", name="Log out").click()
    await ui.page.wait_for_url(re.compile("/login"))
    await ui.new_user("opml-ui-2@example.org")
    await ui.goto("/subscriptions/new")
    await ui.page.set_input_files("#file", str(exported))
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Import").click()
    await expect(ui.page.get_by_role("status")).to_have_text("3 added, 0 skipped, 0 failed.")


async def test_an_empty_or_broken_opml_upload_is_explained(ui: UI, tmp_path: Path) -> None:
    await ui.new_user("opml-bad@example.org")
    await ui.goto("/subscriptions/new")
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Import").click()
    await expect(ui.page.get_by_role("alert")).to_have_text("Choose an OPML file to import.")
    broken = tmp_path / "broken.opml"
    broken.write_text("<html>not opml</html>")
    await ui.page.set_input_files("#file", str(broken))
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Import").click()
    await expect(ui.page.get_by_role("alert")).to_contain_text(
        "That file is not an OPML file that can be imported."
    )
    assert await ui.axe() == []


async def test_the_list_sorts_feeds_by_their_failures_and_shows_only_failing_ones(
    ui: UI, tmp_path: Path
) -> None:
    stack: BackendStack = ui.stack
    await ui.new_user("health@example.org")
    dead = f"{stack.dead_base}/health.xml"
    file = tmp_path / "health.opml"
    file.write_bytes(
        opml(
            [
                (None, "Alpha working", stack.feeds.url("/feeds/healthy.xml")),
                (None, "Zulu dead", dead),
            ]
        )
    )
    await ui.goto("/subscriptions/new")
    await ui.page.set_input_files("#file", str(file))
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Import").click()

    async def failed_once() -> bool:
        rows = stack.app("SELECT error_count, last_error FROM feeds WHERE url = %s", (dead,))
        return bool(rows and rows[0]["error_count"] > 0 and rows[0]["last_error"])

    await until(failed_once, 60, "the fetcher failing the dead feed")

    await ui.goto("/subscriptions")
    titles = ui.page.locator("tbody th.feed > a")
    await expect(titles).to_have_text(["Alpha working", "Zulu dead"])
    await ui.page.get_by_role("link", name="Failures").click()
    await ui.page.wait_for_url(re.compile(r"sort=failures"))
    await expect(titles).to_have_text(["Zulu dead", "Alpha working"])
    dead_row = ui.page.locator("tbody tr").first
    await expect(dead_row.locator(".badge")).to_have_text("Failing")
    await expect(dead_row.locator(".last-error")).not_to_be_empty()
    await expect(dead_row.locator(".failures")).not_to_have_text("0")
    await ui.page.get_by_role("link", name="Only failing feeds").click()
    await ui.page.wait_for_url(re.compile(r"failing=1"))
    await expect(titles).to_have_text(["Zulu dead"])
    assert await ui.axe() == []
    await ui.goto("/subscriptions?sort=failures")
    await ui.screenshots("subscriptions-health")


async def test_every_page_works_without_javascript(
    ui: UI, no_js: Callable[[], Awaitable[Page]], tmp_path: Path
) -> None:
    await ui.new_user("nojs@example.org")
    page = await no_js()
    base = ui.stack.feeds
    file = tmp_path / "nojs.opml"
    file.write_bytes(opml([(None, "Imported", base.url("/feeds/nojs-imported.xml"))]))
    await page.goto(ui.url("/subscriptions/new"))
    await page.fill("#url", base.url("/site/left+right/"))
    await page.click("text=Find the feed")
    await page.wait_for_url(ui.url("/subscriptions/new"))
    await page.check("text=Feed right")
    await page.click("text=Subscribe to the chosen feed")
    await page.wait_for_url(re.compile(r"/subscriptions\?added="))
    await expect(page.get_by_role("status")).to_contain_text("Subscribed to “Feed right”.")
    made = int(page.url.rsplit("=", 1)[1])

    await page.goto(ui.url("/categories"))
    await page.fill("#new-name", "Later")
    await page.click("text=Create")
    await expect(page.get_by_role("status")).to_have_text("The category was created.")

    await page.goto(ui.url("/subscriptions?sort=failures"))
    await page.select_option(f"#move-{made}", label="Later")
    await page.click(f"#sub-{made} >> text=Move")
    await page.wait_for_url(re.compile(r"/subscriptions\?sort=failures&notice=moved"))
    await expect(page.get_by_role("status")).to_have_text("The feed was moved.")
    await expect(page.locator(f"#move-{made} option:checked")).to_have_text("Later")

    await page.goto(ui.url(f"/subscriptions/{made}"))
    await page.select_option("#category_id", label="No category")
    await page.fill("#title", "Right here")
    await page.click("text=Save changes")
    await expect(page.get_by_role("status")).to_have_text("Your changes are saved.")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Right here")
    await page.click("text=Refresh now")
    await expect(page.get_by_role("status")).to_have_text(
        "The feed will be checked again in a moment."
    )
    await page.goto(ui.url("/categories"))
    later = page.locator("li", has_text="Later")
    await later.get_by_role("textbox").fill("Someday")
    await later.get_by_role("button", name="Rename").click()
    await expect(page.get_by_role("status")).to_have_text("The category was renamed.")
    await page.get_by_role("link", name="Delete this category…").click()
    await page.get_by_role("button", name="Delete category").click()
    await expect(page.get_by_role("status")).to_contain_text("its feeds are now uncategorised")

    await page.goto(ui.url("/subscriptions/new"))
    await page.set_input_files("#file", str(file))
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("status")).to_have_text("1 added, 0 skipped, 0 failed.")
    await page.goto(ui.url("/subscriptions"))
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Export OPML").click()
    assert (await waiting.value).suggested_filename == "alt-subscriptions.opml"

    await page.goto(ui.url(f"/subscriptions/{made}"))
    await page.click("text=Unsubscribe…")
    await page.get_by_role("button", name="Unsubscribe").click()
    await page.wait_for_url(re.compile(r"/subscriptions\?notice=unsubscribed"))
    await expect(page.get_by_role("status")).to_have_text("You are unsubscribed.")
    assert ui.stack.app("SELECT id FROM subscriptions WHERE id = %s", (made,)) == []


async def test_pages_speak_japanese_and_relay_the_export(stack: BackendStack) -> None:
    browser, _ = await stack.user("nihongo@example.org")
    japanese = {"Accept-Language": "ja"}
    for path, text in (
        ("/subscriptions", "フィードを購読"),
        ("/subscriptions/new", "サイトまたはフィードのアドレス"),
        ("/categories", "新しいカテゴリ"),
    ):
        page = await browser.http.get(path, headers=japanese)
        assert page.status_code == 200, path
        assert text in page.text, path
    export = await browser.http.get("/opml/export")
    assert export.status_code == 200
    assert export.headers["content-disposition"] == 'attachment; filename="alt-subscriptions.opml"'
    assert export.headers["content-type"].startswith("application/xml")
    assert export.text.startswith("<?xml")


async def test_someone_elses_or_a_missing_feed_is_not_found(stack: BackendStack) -> None:
    owner, _ = await stack.user("owner-ui@example.org")
    made = await owner.call(
        "POST", "/api/v1/subscriptions", {"url": stack.feeds.url("/feeds/owned.xml")}
    )
    assert made.status_code == 201, made.text
    other, _ = await stack.user("other-ui@example.org")
    for path in (f"/subscriptions/{made.json()['id']}", "/subscriptions/999999999"):
        page = await other.http.get(path)
        assert page.status_code == 404, path
        assert "Not found" in page.text
    moved = await other.http.post(
        f"/subscriptions/{made.json()['id']}/unsubscribe", data={"csrf_token": other.csrf}
    )
    assert moved.status_code == 404
    assert stack.app("SELECT id FROM subscriptions WHERE id = %s", (made.json()["id"],))


async def test_a_form_without_its_csrf_token_changes_nothing(stack: BackendStack) -> None:
    browser, user_id = await stack.user("csrf-ui@example.org")
    before = stack.rows_of(user_id)
    answer = await browser.http.post("/categories", data={"name": "Sneaky"})
    assert answer.status_code == 403
    assert stack.rows_of(user_id) == before
