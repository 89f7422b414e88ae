"""The stats page in a real browser: counters kept live from the stats stream by js/live.js
(a new article, a read mark), charts of the history, accessible and readable at phone width in
both themes; and without JavaScript, the same page from the server."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.auth.conftest import PASSWORD
from tests.backend.conftest import BackendStack
from tests.backend.test_articles import add_articles, make_feed
from tests.ui.conftest import PHONE, REPORT_CSP_VIOLATIONS, UI

STATS_EVERY_S = 0.3
WAIT_MS = 15000


@pytest.fixture(scope="module")
def fetch_env(fetch_env: None) -> Iterator[None]:
    """conftest's egress policy, a quick stats stream, and a quick end of a stream whose session
    ended (read when the services start)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALT_STATS_STREAM_EVERY_S", str(STATS_EVERY_S))
        patch.setenv("ALT_AUTH_STREAM_SESSION_CHECK_S", "0.3")
        yield


def subscribe(stack: BackendStack, user_id: uuid.UUID, category: str | None = None) -> int:
    """A new feed the user reads (in a new `category` when named): its id."""
    feed_id = make_feed(stack, f"stats-{uuid.uuid4().hex[:8]}")
    category_id = None
    if category:
        (row,) = stack.app(
            "INSERT INTO categories (user_id, name) VALUES (%s, %s) RETURNING id",
            (user_id, category),
        )
        category_id = row["id"]
    stack.app(
        "INSERT INTO subscriptions (user_id, feed_id, category_id) VALUES (%s, %s, %s)",
        (user_id, feed_id, category_id),
    )
    return feed_id


async def login(ui: UI) -> uuid.UUID:
    email = f"stats-{uuid.uuid4().hex[:8]}@example.org"
    user_id = ui.stack.make_user(email)
    await ui.login(email)
    return user_id


async def in_japanese(ui: UI, email: str) -> UI:
    """A second browser context whose language is Japanese, logged in as `email`; its problems
    fail the test like the first one's."""
    assert ui.context.browser is not None
    context = await ui.context.browser.new_context(viewport=PHONE, locale="ja-JP")
    await context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = await context.new_page()
    made = UI(ui.stack, context, page, ui.problems)
    page.on("pageerror", lambda error: ui.problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda m: ui.problems.append(f"console: {m.text}") if m.type == "error" else None,
    )
    await made.login(email)
    return made


async def text_becomes(ui: UI, selector: str, text: str) -> None:
    await ui.page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.textContent === text",
        arg=[selector, text],
        timeout=WAIT_MS,
    )


async def test_the_counters_follow_new_articles_and_reads_live(ui: UI) -> None:
    user_id = await login(ui)
    feed = subscribe(ui.stack, user_id, "News")
    (category,) = ui.stack.app("SELECT category_id FROM subscriptions WHERE feed_id = %s", (feed,))
    now = datetime.now(UTC)
    articles = add_articles(ui.stack, feed, 4, newest=now, step=timedelta(0))
    await ui.goto("/stats")
    page = ui.page
    assert await page.text_content('[data-stat="feeds"]') == "1"
    assert await page.text_content('[data-stat="articles"]') == "4"
    assert await page.text_content("[data-count-total]") == "4"
    await page.evaluate(
        """([feed, category]) => {
          window.seen = [];
          document.addEventListener("alt:stats", (event) => window.seen.push(event.detail));
          // What the reading area shows: counts per feed and per category.
          document.querySelector("main").insertAdjacentHTML("beforeend",
            `<span data-count-feed="${feed}">?</span>` +
            `<span data-count-category="${category}">?</span>`);
        }""",
        [feed, category["category_id"]],
    )
    # A new article arrives: the counters and the counts follow.
    add_articles(ui.stack, feed, 2, newest=now, step=timedelta(0))
    await text_becomes(ui, '[data-stat="articles"]', "6")
    await text_becomes(ui, "[data-count-total]", "6")
    await text_becomes(ui, f'[data-count-feed="{feed}"]', "6")
    await text_becomes(ui, f'[data-count-category="{category["category_id"]}"]', "6")
    assert await page.text_content('[data-stat="unread_today"]') == "6"
    # One is read (through the API, as the reading area does): the unread counts drop.
    response = await page.request.put(
        ui.url(f"/api/v1/articles/{articles[0]}/read"),
        headers={"X-CSRF-Token": await page.get_attribute('meta[name="csrf-token"]', "content")},
    )
    assert response.status == 204, await response.text()
    await text_becomes(ui, "[data-count-total]", "5")
    await text_becomes(ui, f'[data-count-feed="{feed}"]', "5")
    await text_becomes(ui, '[data-stat="unread_today"]', "5")
    last = await page.evaluate("window.seen[window.seen.length - 1]")
    assert last["articles"] == 6
    events_with_counts = await page.evaluate("window.seen.filter((d) => d.counts).length")
    assert events_with_counts >= 1
    assert await page.get_attribute('[data-stat="feeds"]', "data-zero") is None


async def test_the_counts_come_back_after_the_stream_was_refused(ui: UI) -> None:
    """The session ends (the edge ends the stream, and refuses the browser's reconnect); once
    the person logs in again, live.js tries again by itself and the counts follow again."""
    email = f"stats-{uuid.uuid4().hex[:8]}@example.org"
    user_id = ui.stack.make_user(email)
    await ui.login(email)
    feed = subscribe(ui.stack, user_id)
    add_articles(ui.stack, feed, 2)
    await ui.goto("/stats")
    page = ui.page
    assert await page.text_content("[data-count-total]") == "2"
    csrf = await page.get_attribute('meta[name="csrf-token"]', "content")
    refused = page.wait_for_event(
        "response",
        lambda r: r.url.endswith("/api/v1/sse/feeds/stats") and r.status == 401,
        timeout=WAIT_MS,
    )
    await page.request.post(ui.url("/logout"), form={"csrf_token": csrf or ""})
    await refused
    login_page = await (await page.request.get(ui.url("/login"))).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    assert token is not None
    again = await page.request.post(
        ui.url("/login"),
        form={"csrf_token": token[1], "next": "/stats", "email": email, "password": PASSWORD},
    )
    assert again.ok
    add_articles(ui.stack, feed, 3)
    await text_becomes(ui, "[data-count-total]", "5")
    # The browser reported the refused stream; nothing else went wrong.
    assert all("401" in problem for problem in ui.problems), ui.problems
    ui.problems.clear()


async def test_the_stats_page_draws_the_history_accessibly_in_both_themes(ui: UI) -> None:
    email = f"stats-{uuid.uuid4().hex[:8]}@example.org"
    user_id = ui.stack.make_user(email)
    await ui.login(email)
    feeds = [subscribe(ui.stack, user_id) for _ in range(2)]
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    ids: list[int] = []
    for days_ago, count in ((0, 3), (1, 7), (2, 2), (4, 9), (6, 4), (9, 12), (13, 5), (20, 6)):
        when = today - timedelta(days=days_ago)
        for feed in feeds:
            made = ui.stack.app(
                "INSERT INTO articles (feed_id, entry_hash, title, published_at, fetched_at)"
                " SELECT %s, sha256(convert_to(%s || g, 'UTF8')), 'A', %s, %s"
                " FROM generate_series(1, %s) g RETURNING id",
                (feed, uuid.uuid4().hex, when, when, count),
            )
            ids += [row["id"] for row in made]
    ui.stack.app(
        "INSERT INTO read_states (user_id, article_id, feed_id, read_at)"
        " SELECT %s, id, feed_id, fetched_at + interval '1 hour' FROM articles"
        " WHERE id = ANY(%s) AND id %% 3 = 0",
        (user_id, ids),
    )
    for engine, grounded, extractive, share in (
        ("ollama", True, False, 0),
        ("extractive", None, True, 1),
        ("openai", None, False, 2),
    ):
        ui.stack.app(
            "INSERT INTO summaries (article_id, prompt_version, status, summary, engine,"
            " grounded, extractive) SELECT id, 'v1', 'ready', 'S.', %s, %s, %s FROM articles"
            " WHERE id = ANY(%s) AND id %% 5 = %s",
            (engine, grounded, extractive, ids, share),
        )
    ui.stack.app("UPDATE feeds SET error_count = error_count + 2 WHERE id = %s", (feeds[0],))
    await ui.goto("/stats")
    page = ui.page
    charts = page.locator('svg[role="img"]')
    assert await charts.count() == 4
    for index in range(4):
        chart = charts.nth(index)
        labelled = await chart.get_attribute("aria-labelledby")
        assert labelled is not None
        assert await page.locator(f"[id='{labelled.split()[0]}']").text_content()
    assert await page.locator(".chart-bar").count() > 10
    assert await page.locator("details.chart-numbers").count() == 4
    assert await page.locator("table.engines tbody tr").count() == 3
    await text_becomes(
        ui, "[data-count-total]", await page.text_content("[data-count-total]") or ""
    )
    assert await ui.axe() == []
    await page.locator("details.chart-numbers summary").first.click()
    assert await ui.axe() == []
    await page.locator("details.chart-numbers summary").first.click()
    # The period changes with the form (no script needed).
    await page.select_option("#days", "7")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Update the charts").click()
    assert page.url.endswith("/stats?days=7")
    assert await page.locator("#chart-articles .chart-axis").count() > 0
    await ui.goto("/stats")
    for shot in await ui.screenshots("stats"):
        assert shot.stat().st_size > 0
    # At phone width nothing is wider than the screen, in English or Japanese.
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    japanese = await in_japanese(ui, email)
    await japanese.goto("/stats")
    assert await japanese.page.locator("h2#history-title").text_content() == "日ごとの推移"
    assert await japanese.page.evaluate("document.documentElement.scrollWidth") <= 390
    assert await japanese.axe() == []
    await japanese.screenshots("stats-ja", dark=False)
    await japanese.context.close()


async def test_the_page_works_without_javascript_and_refuses_a_bad_period(
    stack: BackendStack,
) -> None:
    browser, user_id = await stack.user(f"nojs-{uuid.uuid4().hex[:8]}@example.org")
    feed = subscribe(stack, user_id)
    add_articles(stack, feed, 3)
    page = await browser.http.get("/stats")
    assert page.status_code == 200
    html = page.text
    assert 'data-stat="articles">3<' in html
    assert "data-count-total>3<" in html
    assert html.count('role="img"') == 4
    japanese = await browser.http.get("/stats", headers={"Accept-Language": "ja"})
    assert "日ごとの推移" in japanese.text
    assert "Day by day" not in japanese.text
    for bad in ("0", "366", "x", "-5"):
        refused = await browser.http.get("/stats", params={"days": bad})
        assert refused.status_code == 400
        assert "Choose a period of 1 to 365 days." in refused.text
    nobody = await stack.browser().http.get("/stats")
    assert nobody.status_code == 303
    assert nobody.headers["location"].startswith("/login")


async def test_a_page_without_counts_opens_no_stream(ui: UI) -> None:
    """live.js is on every logged-in page but holds a stream only where there is something to
    update (a browser has few connections per site)."""
    await ui.new_user(f"admin-{uuid.uuid4().hex[:8]}@example.org", admin=True)
    streams: list[str] = []
    # Only this test's pages' streams: the list page left behind opens its stream once its
    # sidebar has loaded, which may be after the navigation away has begun.
    left = ui.url("/")
    ui.page.on(
        "request",
        lambda r: streams.append(r.url) if "/sse/" in r.url and r.frame.url != left else None,
    )
    await ui.goto("/status")  # live.js has run by the time the page has loaded
    assert await ui.page.locator("script[src*='js/live']").count() == 1
    assert streams == []
    await ui.goto("/stats")
    await ui.page.wait_for_function("() => document.querySelector('[data-stat]') !== null")
    assert streams == [ui.url("/api/v1/sse/feeds/stats")]
