"""The reading pages in a real browser against the real services: lists and their paging (with
and without JavaScript), the article page, read and star actions, mark all read, the sidebar's
counts, keyboard shortcuts and swipes.

Users, feeds and articles come from the backend tests' helpers (`reader`, `add_articles`):
feeds as rows a fetch leaves, articles as ingestion inserts them, subscriptions through the API.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, Route, expect

from alt.feeds.sanitize import sanitize_html
from tests.backend.conftest import BackendStack
from tests.backend.support import FeedOrigin
from tests.backend.test_articles import NOW, Reader, add_articles, newest_first, reader
from tests.backend.test_images import ImageOrigin
from tests.ui.conftest import UI

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
async def pictures() -> AsyncIterator[ImageOrigin]:
    origin = await ImageOrigin().start()
    yield origin
    await origin.close()


@pytest.fixture(scope="module")
def fetch_env(feed_origin: FeedOrigin, dead_port: int, pictures: ImageOrigin) -> Iterator[None]:
    """The backend tests' egress policy (the loopback feed origin), plus an image origin for
    the articles' pictures."""
    allowed = [feed_origin.port, dead_port, pictures.port]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALT_FETCH_ALLOW_PRIVATE_HOSTS", ",".join(f"127.0.0.1:{p}" for p in allowed))
        patch.setenv("ALT_FETCH_CONNECT_TIMEOUT_S", "2")
        patch.setenv("ALT_FETCH_READ_TIMEOUT_S", "3")
        yield


def as_ingestion_stores(stack: BackendStack, feeds: list[int]) -> None:
    """The feeds' article content sanitised, as ingestion stores it (`add_articles` leaves a
    script in, for the API's tests)."""
    rows = stack.app("SELECT id, content_html FROM articles WHERE feed_id = ANY(%s)", (feeds,))
    for row in rows:
        clean = sanitize_html(row["content_html"], None)
        stack.app("UPDATE articles SET content_html = %s WHERE id = %s", (clean, row["id"]))


async def as_reader(ui: UI, layout: dict[str | None, int], articles: int = 5) -> Reader:
    """A new user with feeds (see `reader`), logged in in the browser."""
    person = await reader(ui.stack, layout, articles=articles)
    as_ingestion_stores(ui.stack, person.feeds)
    (row,) = ui.stack.sql("SELECT email FROM users WHERE id = %s", (person.id,))
    await ui.login(row["email"])
    return person


def unread_ids(stack: BackendStack, person: Reader) -> list[int]:
    """The reader's unread articles, newest first."""
    rows = stack.app(
        "SELECT a.id FROM articles a WHERE a.feed_id = ANY(%s) AND NOT EXISTS"
        " (SELECT 1 FROM read_states r WHERE r.article_id = a.id AND r.user_id = %s)"
        " ORDER BY a.published_at DESC, a.id DESC",
        (person.feeds, person.id),
    )
    return [row["id"] for row in rows]


def feed_title(stack: BackendStack, feed_id: int) -> str:
    (row,) = stack.app("SELECT title FROM feeds WHERE id = %s", (feed_id,))
    return str(row["title"])


def starred_ids(stack: BackendStack, person: Reader) -> set[int]:
    rows = stack.app("SELECT article_id FROM favorites WHERE user_id = %s", (person.id,))
    return {row["article_id"] for row in rows}


async def shown_ids(page: Page) -> list[int]:
    values = await page.locator("#items .item").evaluate_all("(els) => els.map(e => e.dataset.id)")
    return [int(v) for v in values]


# --- lists and paging -------------------------------------------------------------------------


async def test_the_unread_list_pages_with_plain_links_without_javascript(
    stack: BackendStack, chromium: Browser
) -> None:
    context = await chromium.new_context(java_script_enabled=False)
    page = await context.new_page()
    try:
        ui = UI(stack, context, page)
        alice = await as_reader(ui, {None: 2}, articles=40)
        wanted = unread_ids(stack, alice)
        seen: list[int] = []
        await ui.goto("/")
        while True:
            seen += await shown_ids(page)
            following = page.get_by_role("link", name="Next page")
            if await following.count() == 0:
                break
            await following.click()
            assert "cursor=" in page.url
        assert seen == wanted
        assert await page.get_by_text("You have reached the end of this list.").is_visible()
        # The sidebar without JavaScript is a link to a page of its own.
        await page.get_by_role("link", name=re.compile("Show your feeds")).click()
        assert page.url == ui.url("/nav")
        assert await page.locator("[data-count-total]").inner_text() == str(len(wanted))
    finally:
        await context.close()


async def test_the_unread_list_scrolls_on_forever_with_htmx(ui: UI) -> None:
    alice = await as_reader(ui, {None: 2}, articles=40)
    wanted = unread_ids(ui.stack, alice)
    await ui.goto("/")
    assert len(await shown_ids(ui.page)) == 30
    for _ in range(5):
        await ui.page.locator("#items > .more, #items > .end").last.scroll_into_view_if_needed()
        if await ui.page.locator("#items > .end").count():
            break
        await expect(ui.page.locator("#items .item")).not_to_have_count(
            len(await shown_ids(ui.page))
        )
    await expect(ui.page.locator("#items > .end")).to_be_visible()
    assert await shown_ids(ui.page) == wanted
    assert ui.page.url == ui.url("/")
    assert await ui.axe() == []


async def test_views_by_state_feed_and_category(ui: UI) -> None:
    alice = await as_reader(ui, {"News": 1, None: 1}, articles=3)
    news_feed, loose_feed = alice.feeds
    news = alice.categories["News"]
    loose = newest_first(ui.stack, "a.feed_id = %s", (loose_feed,))
    await alice.send("PUT", f"/v1/articles/{loose[0]}/read")
    await alice.send("PUT", f"/v1/articles/{loose[1]}/star")

    await ui.goto(f"/feeds/{loose_feed}")
    assert await shown_ids(ui.page) == loose[1:]
    assert await ui.axe() == []
    await (
        ui.page.get_by_role("navigation", name="Which articles")
        .get_by_role("link", name="All")
        .click()
    )
    assert await shown_ids(ui.page) == loose
    await ui.goto(f"/feeds/{loose_feed}?state=starred")
    assert await shown_ids(ui.page) == [loose[1]]
    await alice.send("POST", "/v1/articles/read", {"ids": loose})
    await ui.goto(f"/feeds/{loose_feed}")
    assert await ui.page.locator("h1").inner_text() == feed_title(ui.stack, loose_feed)
    assert await ui.page.get_by_text("Nothing unread: you are all caught up.").is_visible()
    await ui.goto(f"/categories/{news}")
    assert await ui.page.locator("h1").inner_text() == "News"
    assert await shown_ids(ui.page) == newest_first(ui.stack, "a.feed_id = %s", (news_feed,))
    await ui.goto("/starred")
    assert await shown_ids(ui.page) == [loose[1]]
    await ui.goto("/all")
    assert len(await shown_ids(ui.page)) == 6
    assert await ui.axe() == []
    missing = await ui.page.request.get(ui.url(f"/categories/{news + 1000}"))
    assert missing.status == 404
    assert "<h1>Not found</h1>" in await missing.text()


async def test_empty_states_say_what_to_do(ui: UI) -> None:
    await ui.new_user("empty-reader@example.org")
    await ui.goto("/")
    assert await ui.page.get_by_text("Nothing unread: you are all caught up.").is_visible()
    add = ui.page.locator("main").get_by_role("link", name="Add a feed")
    assert await add.get_attribute("href") == "/subscriptions/new"
    await expect(ui.page.locator("#nav-feeds")).to_contain_text("No feeds yet.")
    assert await ui.axe() == []
    await ui.screenshots("reading-empty")
    await ui.goto("/starred")
    assert await ui.page.get_by_text("No starred articles.").is_visible()
    assert await ui.axe() == []


# --- the sidebar ------------------------------------------------------------------------------


async def test_the_sidebar_shows_unread_counts_per_feed_category_and_in_total(ui: UI) -> None:
    alice = await as_reader(ui, {"News": 2, None: 1}, articles=4)
    first = newest_first(ui.stack, "a.feed_id = %s", (alice.feeds[0],))
    await alice.send("PUT", f"/v1/articles/{first[0]}/read")
    await ui.goto("/")
    nav = ui.page.locator("#nav-feeds")
    await expect(nav.locator("[data-count-total]")).to_have_text("11")
    news = alice.categories["News"]
    assert await nav.locator(f'[data-count-category="{news}"]').inner_text() == "7"
    assert await nav.locator(f'[data-count-feed="{alice.feeds[0]}"]').inner_text() == "3"
    assert await nav.locator(f'[data-count-feed="{alice.feeds[2]}"]').inner_text() == "4"
    await nav.get_by_role("link", name="News").click()
    assert ui.page.url == ui.url(f"/categories/{news}")
    await expect(nav.locator("[aria-current=page]")).to_have_text("News")
    assert await ui.axe() == []
    # On a phone the sidebar starts folded and opens on a tap.
    await ui.page.set_viewport_size(PHONE)
    assert not await nav.is_visible()
    await ui.page.locator(".nav-box > summary").click()
    assert await nav.is_visible()
    await ui.screenshots("reading-sidebar")
    # The sidebar as a page of its own (what a browser without JavaScript gets).
    await ui.goto("/nav")
    assert await ui.page.locator(f'[data-count-category="{news}"]').inner_text() == "7"
    assert await ui.axe() == []


# --- the article page ---------------------------------------------------------------------------


def with_summary(stack: BackendStack, article: int, *, extractive: bool, image: str) -> None:
    """The article's full text (with an image) and its summary, as the pipeline stores them."""
    stack.app(
        "INSERT INTO article_contents (article_id, status, text, html, extracted_at) VALUES"
        " (%s, 'extracted', 'The full text.', %s, now())",
        (article, f'<p>The full text.</p><img src="{image}" alt="A picture">'),
    )
    stack.app(
        "INSERT INTO summaries (article_id, prompt_version, status, summary, language, engine,"
        " model, score, grounded, extractive)"
        " VALUES (%s, 'v1', 'ready', 'In short.', 'en', %s, %s, %s, %s, %s)",
        (
            article,
            "extractive" if extractive else "ollama",
            None if extractive else "gemma",
            None if extractive else 24,
            None if extractive else True,
            extractive,
        ),
    )


async def test_the_article_shows_its_summary_first_then_the_full_text_and_is_read_on_open(
    ui: UI, pictures: ImageOrigin
) -> None:
    alice = await as_reader(ui, {None: 1}, articles=3)
    written, taken, bare = newest_first(ui.stack, "a.feed_id = %s", (alice.feeds[0],))
    picture = pictures.url("/pic.png")
    with_summary(ui.stack, written, extractive=False, image=picture)
    with_summary(ui.stack, taken, extractive=True, image=picture)
    ui.stack.app(
        "UPDATE articles SET enclosures = %s::jsonb WHERE id = %s",
        (
            '[{"url": "https://example.org/a.mp3", "type": "audio/mpeg"},'
            ' {"url": "javascript:alert(2)"}]',
            written,
        ),
    )
    images: list[str] = []
    ui.page.on("request", lambda r: images.append(r.url) if r.resource_type == "image" else None)
    await ui.goto(f"/articles/{written}")
    body = ui.page.locator(".reader-body")
    await expect(body.locator("img")).to_have_js_property("naturalWidth", 2)
    src = await body.locator("img").get_attribute("src")
    assert (src or "").startswith("/api/v1/images/")
    assert pictures.requests == ["/pic.png"]  # fetched by the proxy, not by the browser
    assert [u for u in images if not u.startswith(ui.url("/api/v1/images/"))] == []
    summary = ui.page.locator(".summary")
    assert await summary.locator(".mark").inner_text() == (
        "Written by a model and grounded in the article · ollama / gemma · judge score 24/30"
    )
    assert await summary.locator(".summary-text").inner_text() == "In short."
    order = await ui.page.evaluate(
        "() => document.querySelector('.summary').compareDocumentPosition("
        "document.querySelector('.reader-body')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert order
    assert "The full text." in await body.inner_text()
    assert (
        await ui.page.get_by_role("link", name="a.mp3").get_attribute("rel")
        == "noopener noreferrer"
    )
    assert await ui.page.locator("a[href^='javascript:']").count() == 0
    # Opened, so read.
    await expect(ui.page.get_by_role("button", name="Mark unread")).to_be_visible()
    assert written not in unread_ids(ui.stack, alice)
    assert await ui.axe() == []
    await ui.screenshots("reading-article")

    await ui.goto(f"/articles/{taken}")
    assert await ui.page.locator(".summary .mark").inner_text() == (
        "Extractive: sentences taken from the article"
    )
    await expect(ui.page.get_by_role("button", name="Mark unread")).to_be_visible()
    await ui.goto(f"/articles/{bare}")
    assert "No summary yet" in await ui.page.locator(".summary .mark").inner_text()
    assert "Text of" in await ui.page.locator(".reader-body").inner_text()
    original = ui.page.get_by_role("link", name="Original article")
    assert await original.get_attribute("rel") == "noopener noreferrer"
    assert await ui.axe() == []
    await expect(ui.page.get_by_role("button", name="Mark unread")).to_be_visible()
    assert unread_ids(ui.stack, alice) == []


# --- read and star, with and without JavaScript -------------------------------------------------


async def test_read_and_star_toggle_in_place_with_htmx(ui: UI) -> None:
    alice = await as_reader(ui, {None: 1}, articles=2)
    newest = newest_first(ui.stack, "a.feed_id = %s", (alice.feeds[0],))[0]
    await ui.goto("/")
    item = ui.page.locator(f"#article-{newest}")
    await item.get_by_role("button", name="Mark read").click()
    await expect(item.get_by_role("button", name="Mark unread")).to_be_visible()
    assert ui.page.url == ui.url("/")
    assert newest not in unread_ids(ui.stack, alice)
    await item.get_by_role("button", name="Star").click()
    await expect(item.get_by_role("button", name="Unstar")).to_be_visible()
    assert starred_ids(ui.stack, alice) == {newest}
    await item.get_by_role("button", name="Unstar").click()
    await expect(item.get_by_role("button", name="Star")).to_be_visible()
    # From the keyboard: the new button keeps the focus.
    await item.get_by_role("button", name="Mark unread").focus()
    await ui.page.keyboard.press("Space")
    await expect(item.get_by_role("button", name="Mark read")).to_be_focused()
    assert (newest in unread_ids(ui.stack, alice), starred_ids(ui.stack, alice)) == (True, set())


async def test_read_and_star_work_without_javascript(
    stack: BackendStack, chromium: Browser
) -> None:
    context = await chromium.new_context(java_script_enabled=False)
    page = await context.new_page()
    try:
        ui = UI(stack, context, page)
        alice = await as_reader(ui, {None: 1}, articles=2)
        newest, older = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))
        await ui.goto(f"/articles/{older}")
        assert older not in unread_ids(stack, alice)  # opening it, even without a script
        await page.get_by_role("button", name="Star").click()
        assert page.url == ui.url(f"/articles/{older}")
        assert starred_ids(stack, alice) == {older}
        await page.get_by_role("button", name="Mark unread").click()
        assert page.url == ui.url(f"/articles/{older}")
        assert older in unread_ids(stack, alice)
        await ui.goto("/")
        await page.locator(f"#article-{newest}").get_by_role("button", name="Mark read").click()
        assert page.url == ui.url("/")
        assert unread_ids(stack, alice) == [older]
        await page.locator(f"#article-{older}").get_by_role("button", name="Unstar").click()
        assert starred_ids(stack, alice) == set()
    finally:
        await context.close()


async def test_an_action_never_sends_the_browser_off_site(ui: UI) -> None:
    alice = await as_reader(ui, {None: 1}, articles=1)
    (article,) = newest_first(ui.stack, "a.feed_id = %s", (alice.feeds[0],))
    await ui.goto("/")
    csrf = await ui.page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = await ui.page.request.post(
        ui.url(f"/articles/{article}/star"),
        form={"csrf_token": csrf or "", "next": "//evil.example/"},
        max_redirects=0,
    )
    assert (answer.status, answer.headers["location"]) == (303, "/")
    forged = await ui.page.request.post(
        ui.url(f"/articles/{article}/unstar"), form={"csrf_token": "nope"}, max_redirects=0
    )
    assert forged.status == 403
    assert starred_ids(ui.stack, alice) == {article}


# --- mark all read ----------------------------------------------------------------------------


async def test_mark_all_read_older_than_a_day_in_a_feed(ui: UI) -> None:
    alice = await as_reader(ui, {None: 2}, articles=0)
    feed, other = alice.feeds
    recent = add_articles(ui.stack, feed, 2, newest=NOW - timedelta(hours=1))
    old = add_articles(ui.stack, feed, 3, newest=NOW - timedelta(days=3))
    elsewhere = add_articles(ui.stack, other, 2, newest=NOW - timedelta(days=5))
    await ui.goto(f"/feeds/{feed}")
    await ui.page.get_by_text("Mark all as read…").click()
    await ui.page.get_by_label("Articles to mark").select_option("day")
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Mark as read").click()
    assert ui.page.url == ui.url(f"/feeds/{feed}")
    assert await shown_ids(ui.page) == recent
    assert set(unread_ids(ui.stack, alice)) == set(recent + elsewhere)
    assert not set(old) & set(unread_ids(ui.stack, alice))
    await ui.goto("/")
    await ui.page.get_by_text("Mark all as read…").click()
    # An article that arrives after the page was shown is not marked with what was seen.
    arrived = add_articles(ui.stack, other, 1, newest=NOW)
    async with ui.page.expect_navigation():
        await ui.page.get_by_role("button", name="Mark as read").click()
    assert unread_ids(ui.stack, alice) == arrived
    assert await shown_ids(ui.page) == arrived


# --- keyboard and touch ---------------------------------------------------------------------------


async def test_keyboard_shortcuts(ui: UI) -> None:
    alice = await as_reader(ui, {None: 1}, articles=3)
    first, second, third = newest_first(ui.stack, "a.feed_id = %s", (alice.feeds[0],))
    await ui.goto("/")
    keys = ui.page.keyboard
    await keys.press("j")
    await expect(ui.page.locator(".item.selected")).to_have_attribute("data-id", str(first))
    await keys.press("j")
    await keys.press("j")
    await keys.press("k")
    await expect(ui.page.locator(".item.selected")).to_have_attribute("data-id", str(second))
    await keys.press("m")
    await expect(ui.page.locator(f"#article-{second} .toggle-read")).to_have_attribute(
        "data-read", "true"
    )
    await keys.press("s")
    await expect(ui.page.locator(f"#article-{second} .toggle-star")).to_have_attribute(
        "data-starred", "true"
    )
    assert (unread_ids(ui.stack, alice), starred_ids(ui.stack, alice)) == ([first, third], {second})
    await keys.press("?")
    dialog = ui.page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(dialog).to_be_visible()
    assert await ui.axe() == []
    await ui.screenshots("reading-shortcuts")
    await keys.press("Escape")
    await expect(dialog).to_be_hidden()
    await keys.press("Shift+A")
    await expect(ui.page.get_by_label("Articles to mark")).to_be_focused()
    await ui.page.get_by_label("Articles to mark").press("j")  # typed in a field: no shortcut
    await expect(ui.page.locator(".item.selected")).to_have_attribute("data-id", str(second))
    await ui.page.locator("h1").click()
    await keys.press("o")
    await ui.page.wait_for_url(ui.url(f"/articles/{second}"))
    # The article page knows the list it came from: j goes on to the next article.
    await expect(ui.page.locator("[data-pager] [data-next]")).to_have_attribute(
        "href", f"/articles/{third}"
    )
    await keys.press("j")
    await ui.page.wait_for_url(ui.url(f"/articles/{third}"))
    await keys.press("s")
    await expect(ui.page.locator(".reader .toggle-star")).to_have_attribute("data-starred", "true")
    await keys.press("g")
    await keys.press("s")
    await ui.page.wait_for_url(ui.url("/starred"))
    await keys.press("g")
    await keys.press("u")
    await ui.page.wait_for_url(ui.url("/"))
    async with ui.page.expect_navigation():
        await keys.press("r")
    await keys.press("j")
    await keys.press("Enter")
    await ui.page.wait_for_url(ui.url(f"/articles/{first}"))


async def test_swiping_an_item_marks_it_read_one_way_and_stars_it_the_other(
    stack: BackendStack, chromium: Browser
) -> None:
    context = await chromium.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = await context.new_page()
    try:
        ui = UI(stack, context, page)
        alice = await as_reader(ui, {None: 1}, articles=2)
        first, second = newest_first(stack, "a.feed_id = %s", (alice.feeds[0],))
        await ui.goto("/")

        touch = await context.new_cdp_session(page)

        async def swipe(article: int, dx: int) -> None:
            """A finger on the item, moved sideways by `dx` pixels, then lifted."""
            item = page.locator(f"#article-{article}")
            box = await item.bounding_box()
            assert box is not None
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

            async def at(kind: str, cx: float) -> None:
                points = [] if kind == "touchEnd" else [{"x": cx, "y": y}]
                await touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

            await at("touchStart", x)
            for step in range(1, 11):
                await at("touchMove", x + dx * step / 10)
            # The strip under the item names what letting go does, once the swipe is far enough.
            armed = await item.evaluate("(el) => el.classList.contains('armed')")
            assert armed == (abs(dx) >= 80)
            shown = await item.locator(".swipe-hint").inner_text()
            assert shown == ("Mark read" if dx > 0 else "☆ Star")
            await at("touchEnd", x + dx)

        await swipe(first, 150)
        await expect(page.locator(f"#article-{first} .toggle-read")).to_have_attribute(
            "data-read", "true"
        )
        await swipe(second, -150)
        await expect(page.locator(f"#article-{second} .toggle-star")).to_have_attribute(
            "data-starred", "true"
        )
        await swipe(second, 30)  # too short: nothing happens
        assert (unread_ids(stack, alice), starred_ids(stack, alice)) == ([second], {second})
    finally:
        await context.close()


async def test_the_unread_list_looks_right(ui: UI) -> None:
    alice = await as_reader(ui, {"News": 1, None: 1}, articles=4)
    newest = newest_first(ui.stack, "a.feed_id = %s", (alice.feeds[0],))
    await alice.send("PUT", f"/v1/articles/{newest[1]}/star")
    await alice.send("PUT", f"/v1/articles/{newest[2]}/read")
    await ui.goto("/")
    await expect(ui.page.locator("#nav-feeds [data-count-total]")).to_be_visible()
    assert await ui.axe() == []
    await ui.screenshots("reading-unread")


async def test_articles_scrolled_past_are_marked_read_when_the_profile_asks(ui: UI) -> None:
    """The profile's `mark_read_on_scroll` puts `data-mark-on-scroll` on the list (the accounts
    work adds the preference; here the page is given the attribute on its way to the browser)."""
    alice = await as_reader(ui, {None: 1}, articles=12)
    newest = newest_first(ui.stack, "a.feed_id = %s", (alice.feeds[0],))

    async def with_preference(route: Route) -> None:
        answer = await route.fetch()
        page = (await answer.text()).replace('id="items"', 'id="items" data-mark-on-scroll="true"')
        await route.fulfill(response=answer, body=page)

    # The context's route: the service worker fetches the page, and a page's route misses that.
    await ui.context.route(ui.url("/"), with_preference)
    await ui.page.set_viewport_size(PHONE)
    await ui.goto("/")
    assert unread_ids(ui.stack, alice) == newest  # nothing is read by being shown
    # The fourth article's bottom goes just past the top of the window; the fifth stays in it.
    await ui.page.locator(f"#article-{newest[3]}").evaluate(
        "(el) => window.scrollBy(0, el.getBoundingClientRect().bottom + 1)"
    )
    for article in newest[:4]:
        await expect(ui.page.locator(f"#article-{article} .toggle-read")).to_have_attribute(
            "data-read", "true"
        )
    assert unread_ids(ui.stack, alice) == newest[4:]
