"""Subscriptions through the edge: subscribe (feed URL, web page, title and category) and every
way it can fail (duplicate, refused URL, not a feed, unreachable, bad input); list, show,
rename, move, refresh; unsubscribe leaving other users' data untouched."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from alt.platform.identity import USER_TOKEN_HEADER
from alt.platform.service_tokens import HEADER
from tests.auth.conftest import Browser
from tests.backend.conftest import BackendStack
from tests.helpers import free_port, running, with_overrides
from tests.support.waiting import until

PRIVATE = "private, no-store"


async def subscribe(browser: Browser, url: str, **fields: Any) -> dict[str, Any]:
    response = await browser.call("POST", "/api/v1/subscriptions", {"url": url, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def category(browser: Browser, name: str) -> int:
    response = await browser.call("POST", "/api/v1/categories", {"name": name})
    assert response.status_code == 201, response.text
    made: int = response.json()["id"]
    return made


@pytest.fixture(scope="module")
async def reader(stack: BackendStack) -> tuple[Browser, uuid.UUID]:
    return await stack.user("reader@example.org")


async def test_a_feed_with_a_bad_character_keeps_every_item_and_says_what_was_repaired(
    stack: BackendStack,
) -> None:
    browser, _ = await stack.user("repaired@example.org")
    body = await subscribe(browser, stack.feeds.url("/bad/repaired.xml"))
    assert body["unread_count"] == 25
    assert "surrogate" in body["feed"]["last_warnings"]
    listed = (await browser.call("GET", "/api/v1/subscriptions")).json()
    [mine] = [s for s in listed["subscriptions"] if s["id"] == body["id"]]
    assert mine["feed"]["last_warnings"] == body["feed"]["last_warnings"]
    titles = [a["title"] for a in body["articles"]]
    assert "repaired item 24" in titles


async def test_subscribe_to_a_feed_answers_the_feed_and_its_newest_articles(
    stack: BackendStack, reader: tuple[Browser, uuid.UUID]
) -> None:
    browser, user_id = reader
    url = stack.feeds.url("/feeds/alpha.xml")
    response = await browser.call("POST", "/api/v1/subscriptions", {"url": url})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == PRIVATE
    body = response.json()
    feed = body["feed"]
    assert feed["url"] == url
    assert feed["title"] == "Feed alpha"
    assert feed["site_url"] == stack.feeds.url("/site/alpha/")
    assert feed["last_checked_at"] is not None
    assert feed["error_count"] == 0
    assert feed["last_error"] is None
    assert feed["last_warnings"] is None
    assert body["title"] == "Feed alpha"
    assert body["custom_title"] is None
    assert body["category"] is None
    assert body["unread_count"] == 25
    articles = body["articles"]
    assert len(articles) == 20
    assert [a["title"] for a in articles] == [f"alpha item {i}" for i in range(24, 4, -1)]
    assert articles[0]["url"] == stack.feeds.url("/articles/alpha/24")
    assert set(articles[0]) == {"id", "title", "url", "published_at"}
    rows = stack.app("SELECT s.id, s.feed_id FROM subscriptions s WHERE user_id = %s", (user_id,))
    assert [r["id"] for r in rows] == [body["id"]]
    assert rows[0]["feed_id"] == feed["id"]

    shown = await browser.call("GET", f"/api/v1/subscriptions/{body['id']}")
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == PRIVATE
    expected = {k: v for k, v in body.items() if k != "articles"}
    assert shown.json() == expected
    listed = await browser.call("GET", "/api/v1/subscriptions")
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == PRIVATE
    assert expected in listed.json()["subscriptions"]


async def test_subscribe_to_a_web_page_finds_its_feed(stack: BackendStack) -> None:
    browser, _ = await stack.user("pages@example.org")
    body = await subscribe(browser, stack.feeds.url("/site/beta/"))
    assert body["feed"]["url"] == stack.feeds.url("/feeds/beta.xml")
    assert body["title"] == "Feed beta"
    assert len(body["articles"]) == 20


async def test_subscribe_with_a_title_and_a_category(stack: BackendStack) -> None:
    browser, user_id = await stack.user("titles@example.org")
    folder = await category(browser, "Tech")
    body = await subscribe(
        browser, stack.feeds.url("/feeds/gamma.xml"), title="  My\tgamma  ", category_id=folder
    )
    assert body["title"] == "My gamma"
    assert body["custom_title"] == "My gamma"
    assert body["feed"]["title"] == "Feed gamma"
    assert body["category"] == {"id": folder, "name": "Tech"}
    row = stack.app("SELECT title, category_id FROM subscriptions WHERE user_id = %s", (user_id,))
    assert row == [{"title": "My gamma", "category_id": folder}]


async def test_a_feed_someone_reads_is_not_fetched_again(stack: BackendStack) -> None:
    first, _ = await stack.user("first@example.org")
    second, _ = await stack.user("second@example.org")
    url = stack.feeds.url("/feeds/shared.xml")
    one = await subscribe(first, url)
    fetched = stack.feeds.seen("/feeds/shared.xml")
    two = await subscribe(second, url)
    assert two["feed"]["id"] == one["feed"]["id"]
    assert two["id"] != one["id"]
    assert len(two["articles"]) == 20
    assert stack.feeds.seen("/feeds/shared.xml") == fetched


async def test_a_duplicate_subscription_is_refused_with_409(stack: BackendStack) -> None:
    browser, user_id = await stack.user("dupes@example.org")
    url = stack.feeds.url("/feeds/delta.xml")
    made = await subscribe(browser, url, title="Delta")
    fetched = stack.feeds.seen("/feeds/delta.xml")
    # The same feed, however it is spelled: refused before anything is fetched.
    for spelling in (
        url,
        url.replace("127.0.0.1", "127.0.0.1."),
        url + "#top",
        url.replace("http://", "HTTP://"),
    ):
        again = await browser.call("POST", "/api/v1/subscriptions", {"url": spelling})
        assert again.status_code == 409, (spelling, again.text)
        assert again.headers["cache-control"] == PRIVATE
        answer = again.json()
        assert answer["code"] == "already_subscribed"
        assert "already subscribed" in answer["message"]
        assert "Delta" in answer["message"]
        assert answer["details"] == {"subscription_id": made["id"]}
    assert stack.feeds.seen("/feeds/delta.xml") == fetched
    # The web page of a feed already read: found out after discovery.
    page = await browser.call(
        "POST", "/api/v1/subscriptions", {"url": stack.feeds.url("/site/delta/")}
    )
    assert page.status_code == 409, page.text
    assert page.json()["details"] == {"subscription_id": made["id"]}
    assert stack.app("SELECT count(*) AS n FROM subscriptions WHERE user_id = %s", (user_id,)) == [
        {"n": 1}
    ]


@pytest.mark.parametrize(
    ("url", "code", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "blocked_url", "not a public address"),
        ("http://127.0.0.1:5432/", "blocked_url", "not a public address"),
        ("http://[::ffff:169.254.169.254]/", "blocked_url", "not a public address"),
        ("http://2130706433/feed", "blocked_url", "not a public address"),
        ("http://0x7f.1/feed", "blocked_url", "not a public address"),
        ("http://[fd00::1]/feed", "blocked_url", "not a public address"),
        ("http://localhost/feed", "blocked_url", "this machine"),
        ("http://feeds.example.org:25/", "blocked_url", "port 25 is not allowed"),
        ("file:///var/feeds/news.xml", "invalid_url", "file: URLs are not allowed"),
        ("gopher://127.0.0.1:6379/_INFO", "invalid_url", "gopher: URLs are not allowed"),
        ("javascript:alert(1)", "invalid_url", "javascript: URLs are not allowed"),
        ("http://user:secret@feeds.example.org/", "invalid_url", "credentials"),
        ("http://", "invalid_url", "host"),
    ],
)
async def test_urls_that_may_not_be_fetched_are_refused_with_the_reason(
    stack: BackendStack, reader: tuple[Browser, uuid.UUID], url: str, code: str, why: str
) -> None:
    browser, user_id = reader
    before = stack.rows_of(user_id)
    feeds = stack.app("SELECT count(*) AS n FROM feeds")
    response = await browser.call("POST", "/api/v1/subscriptions", {"url": url})
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["code"] == code
    assert why in answer["message"]
    assert answer["details"] == {"field": "url"}
    assert stack.rows_of(user_id) == before
    assert stack.app("SELECT count(*) AS n FROM feeds") == feeds


async def test_a_page_without_a_feed_is_not_a_feed(
    stack: BackendStack, reader: tuple[Browser, uuid.UUID]
) -> None:
    browser, user_id = reader
    before = stack.rows_of(user_id)
    response = await browser.call(
        "POST", "/api/v1/subscriptions", {"url": stack.feeds.url("/plain.html")}
    )
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["code"] == "not_a_feed"
    assert "not a feed" in answer["message"]
    assert stack.rows_of(user_id) == before


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("dead", "fetch_connect"),
        ("/missing.xml", "fetch_http_status"),
        ("/slow/hang.xml?s=4", "fetch_timeout"),
    ],
)
async def test_unreachable_feeds_say_why(
    stack: BackendStack, reader: tuple[Browser, uuid.UUID], path: str, code: str
) -> None:
    browser, user_id = reader
    url = stack.dead_url if path == "dead" else stack.feeds.url(path)
    before = stack.rows_of(user_id)
    response = await browser.call("POST", "/api/v1/subscriptions", {"url": url})
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["code"] == code
    assert answer["message"]
    assert "Traceback" not in response.text
    assert stack.rows_of(user_id) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "https://feeds.example.org/" + "a" * 2100}, "url"),
        ({"url": 5}, "url"),
        ({"url": "https://feeds.example.org/", "title": ""}, "title"),
        ({"url": "https://feeds.example.org/", "title": " \t "}, "title"),
        ({"url": "https://feeds.example.org/", "title": "x" * 1001}, "title"),
        ({"url": "https://feeds.example.org/", "category_id": "folder"}, "category_id"),
        ({"url": "https://feeds.example.org/", "category_id": 0}, "category_id"),
        ({"url": "https://feeds.example.org/", "category_id": 2**63}, "category_id"),
        ({"url": "https://feeds.example.org/", "colour": "red"}, "colour"),
    ],
)
async def test_bad_subscribe_bodies_get_422_naming_the_field(
    reader: tuple[Browser, uuid.UUID], body: dict[str, Any], field: str
) -> None:
    browser, _ = reader
    response = await browser.call("POST", "/api/v1/subscriptions", body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["code"] == "validation_failed"
    assert field in [d["field"] for d in answer["details"]]
    assert field in answer["message"]


async def test_subscribing_into_a_missing_category_is_404(
    stack: BackendStack, reader: tuple[Browser, uuid.UUID]
) -> None:
    browser, _ = reader
    fetched = stack.feeds.seen("/feeds/nowhere.xml")
    response = await browser.call(
        "POST",
        "/api/v1/subscriptions",
        {"url": stack.feeds.url("/feeds/nowhere.xml"), "category_id": 2**62},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert stack.feeds.seen("/feeds/nowhere.xml") == fetched


async def test_rename_and_move(stack: BackendStack) -> None:
    browser, _ = await stack.user("mover@example.org")
    made = await subscribe(browser, stack.feeds.url("/feeds/epsilon.xml"))
    folder = await category(browser, "Reading")
    path = f"/api/v1/subscriptions/{made['id']}"

    renamed = await browser.call("PATCH", path, {"title": "Eps"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["cache-control"] == PRIVATE
    assert renamed.json()["title"] == "Eps"
    assert renamed.json()["category"] is None

    moved = await browser.call("PATCH", path, {"category_id": folder})
    assert moved.json()["category"] == {"id": folder, "name": "Reading"}
    assert moved.json()["title"] == "Eps"  # untouched: only the fields sent change

    reset = await browser.call("PATCH", path, {"title": None, "category_id": None})
    assert reset.status_code == 200
    assert reset.json()["title"] == "Feed epsilon"
    assert reset.json()["custom_title"] is None
    assert reset.json()["category"] is None
    assert stack.app(
        "SELECT title, category_id FROM subscriptions WHERE id = %s", (made["id"],)
    ) == [{"title": None, "category_id": None}]

    nothing = await browser.call("PATCH", path, {})
    assert nothing.status_code == 422
    assert "Nothing to change" in nothing.json()["message"]
    extra = await browser.call("PATCH", path, {"feed_id": 1})
    assert extra.status_code == 422
    missing_folder = await browser.call("PATCH", path, {"category_id": 2**62})
    assert missing_folder.status_code == 404
    assert (
        await browser.call("PATCH", "/api/v1/subscriptions/999999999", {"title": "x"})
    ).status_code == 404
    assert stack.app(
        "SELECT title, category_id FROM subscriptions WHERE id = %s", (made["id"],)
    ) == [{"title": None, "category_id": None}]


@pytest.mark.parametrize("sub_id", ["999999999", "0", "-1", "abc", str(2**63), "1.5"])
async def test_unknown_or_malformed_ids(reader: tuple[Browser, uuid.UUID], sub_id: str) -> None:
    browser, _ = reader
    response = await browser.call("GET", f"/api/v1/subscriptions/{sub_id}")
    expected = 404 if sub_id == "999999999" else 422
    assert response.status_code == expected, response.text
    assert response.headers["cache-control"] == PRIVATE
    assert set(response.json()) == {"error", "code", "message", "details"}


async def test_the_list_is_paged(stack: BackendStack) -> None:
    browser, _ = await stack.user("pager@example.org")
    made = [await subscribe(browser, stack.feeds.url(f"/feeds/page{i}.xml")) for i in range(5)]
    seen: list[int] = []
    after = 0
    while True:
        response = await browser.call(
            "GET", "/api/v1/subscriptions", params={"limit": 2, "after": after}
        )
        assert response.status_code == 200
        page = response.json()
        assert len(page["subscriptions"]) <= 2
        seen += [s["id"] for s in page["subscriptions"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert seen == sorted(m["id"] for m in made)
    too_many = await browser.call("GET", "/api/v1/subscriptions", params={"limit": 5000})
    assert too_many.status_code == 422


async def test_refresh_makes_the_feed_due_and_wakes_the_fetcher(stack: BackendStack) -> None:
    browser, _ = await stack.user("refresh@example.org")
    made = await subscribe(browser, stack.feeds.url("/feeds/zeta.xml"))
    feed_id = made["feed"]["id"]
    later = datetime.now(UTC) + timedelta(hours=5)
    stack.app("UPDATE feeds SET next_check_at = %s WHERE id = %s", (later, feed_id))
    async with await psycopg.AsyncConnection.connect(stack.app_db, autocommit=True) as listener:
        await listener.execute("LISTEN alt_feeds_due")
        started = datetime.now(UTC)
        fetched = stack.feeds.seen("/feeds/zeta.xml")
        response = await browser.call("POST", f"/api/v1/subscriptions/{made['id']}/refresh")
        assert response.status_code == 202, response.text
        assert response.headers["cache-control"] == PRIVATE
        notified = await asyncio.wait_for(anext(aiter(listener.notifies())), 5)
    assert notified.channel == "alt_feeds_due"
    answer = response.json()
    assert answer["subscription_id"] == made["id"]
    assert answer["feed_id"] == feed_id
    due_at = datetime.fromisoformat(answer["next_check_at"])
    assert started - timedelta(seconds=5) < due_at < datetime.now(UTC) + timedelta(seconds=5)
    # The pre-processor's fetcher, woken, fetches the feed again (hours before it was due).

    async def checked_again() -> bool:
        state = stack.app("SELECT last_checked_at FROM feeds WHERE id = %s", (feed_id,))[0]
        return bool(state["last_checked_at"] >= started)

    await until(checked_again, 30, "the woken fetcher checking the feed again")
    assert stack.feeds.seen("/feeds/zeta.xml") > fetched
    assert (
        await browser.call("POST", "/api/v1/subscriptions/999999999/refresh")
    ).status_code == 404


async def test_unsubscribe_leaves_other_users_untouched(stack: BackendStack) -> None:
    leaver, leaver_id = await stack.user("leaver@example.org")
    stayer, stayer_id = await stack.user("stayer@example.org")
    url = stack.feeds.url("/feeds/eta.xml")
    gone = await subscribe(leaver, url, title="Mine")
    folder = await category(leaver, "Folder")
    await leaver.call("PATCH", f"/api/v1/subscriptions/{gone['id']}", {"category_id": folder})
    kept = await subscribe(leaver, stack.feeds.url("/feeds/theta.xml"))
    other = await subscribe(stayer, url, title="Theirs")
    other_folder = await category(stayer, "Folder")
    await stayer.call(
        "PATCH", f"/api/v1/subscriptions/{other['id']}", {"category_id": other_folder}
    )
    # Read marks and stars (the API for them comes later): both users, both feeds.
    for user_id in (leaver_id, stayer_id):
        stack.app(
            "INSERT INTO read_states (user_id, article_id, feed_id)"
            " SELECT %s, id, feed_id FROM articles WHERE feed_id IN (%s, %s)",
            (user_id, gone["feed"]["id"], kept["feed"]["id"]),
        )
        stack.app(
            "INSERT INTO favorites (user_id, article_id)"
            " SELECT %s, id FROM articles WHERE feed_id IN (%s, %s)",
            (user_id, gone["feed"]["id"], kept["feed"]["id"]),
        )
    theirs = stack.rows_of(stayer_id)
    assert len(theirs["read_states"]) == 50

    response = await leaver.call("DELETE", f"/api/v1/subscriptions/{gone['id']}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["cache-control"] == PRIVATE

    assert stack.rows_of(stayer_id) == theirs
    mine = stack.app("SELECT feed_id FROM subscriptions WHERE user_id = %s", (leaver_id,))
    assert mine == [{"feed_id": kept["feed"]["id"]}]
    left = stack.app("SELECT DISTINCT feed_id FROM read_states WHERE user_id = %s", (leaver_id,))
    assert left == [{"feed_id": kept["feed"]["id"]}]
    starred = stack.app(
        "SELECT DISTINCT a.feed_id FROM favorites f JOIN articles a"
        " ON a.id = f.article_id WHERE f.user_id = %s",
        (leaver_id,),
    )
    assert starred == [{"feed_id": kept["feed"]["id"]}]
    assert stack.app("SELECT count(*) AS n FROM categories WHERE id = %s", (folder,)) == [
        {"n": 1}
    ]  # the folder stays
    assert stack.app(
        "SELECT count(*) AS n FROM articles WHERE feed_id = %s", (gone["feed"]["id"],)
    ) == [{"n": 25}]  # shared content stays
    assert (await leaver.call("GET", f"/api/v1/subscriptions/{gone['id']}")).status_code == 404
    assert (await leaver.call("DELETE", f"/api/v1/subscriptions/{gone['id']}")).status_code == 404
    # Subscribing again works (and, the feed being known, fetches nothing).
    again = await subscribe(leaver, url)
    assert again["unread_count"] == 25


async def test_a_slow_feed_holds_up_nobody(stack: BackendStack) -> None:
    """Discovery runs outside any transaction and holds no database connection: while slow
    feeds are being checked, the same user and others are served at once (subscribing to a
    feed that is known to work needs no fetch, so it does not wait for the origin either)."""
    patient, _ = await stack.user("patient@example.org")
    other, _ = await stack.user("other@example.org")
    known = await patient.call(
        "POST", "/api/v1/subscriptions", {"url": stack.feeds.url("/feeds/iota.xml")}
    )
    assert known.status_code == 201
    slow = [
        asyncio.create_task(
            patient.call(
                "POST", "/api/v1/subscriptions", {"url": stack.feeds.url(f"/slow/p{i}.xml")}
            )
        )
        for i in range(3)
    ]

    async def checking() -> bool:
        return any(stack.feeds.seen(f"/slow/p{i}.xml") for i in range(3))

    await until(checking, 30, "discovery asking the origin for a slow feed")
    quick = [
        await patient.call("GET", "/api/v1/subscriptions"),
        await patient.call("POST", "/api/v1/categories", {"name": "While waiting"}),
        await other.call(
            "POST", "/api/v1/subscriptions", {"url": stack.feeds.url("/feeds/iota.xml")}
        ),
        await other.call("GET", "/api/v1/categories"),
    ]
    assert [r.status_code for r in quick] == [200, 201, 201, 200]
    assert not any(task.done() for task in slow), "served while the slow feeds were checked"
    answers = await asyncio.gather(*slow)
    assert [a.status_code for a in answers] == [201, 201, 201]


async def test_without_the_pre_processor_subscribe_says_to_try_again(
    stack: BackendStack, reader: tuple[Browser, uuid.UUID]
) -> None:
    browser, user_id = reader
    before = stack.rows_of(user_id)
    lonely = with_overrides(
        stack.settings,
        ALT_BACKEND_URL=f"http://127.0.0.1:{free_port()}",
        PRE_PROCESSOR_URL=f"http://127.0.0.1:{free_port()}",
    )
    token = await stack.user_token(browser, unsafe=True)
    async with (
        running(lonely, "alt-backend"),
        httpx.AsyncClient(base_url=lonely.service_url("alt-backend")) as client,
    ):
        response = await client.post(
            "/v1/subscriptions",
            json={"url": stack.feeds.url("/feeds/kappa.xml")},
            headers={
                HEADER: stack.service_token("alt-frontend", "alt-backend"),
                USER_TOKEN_HEADER: token,
            },
        )
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "discovery_unavailable"
    assert "try again" in response.json()["message"]
    assert response.headers["retry-after"] == "60"
    assert response.headers["cache-control"] == PRIVATE
    assert stack.rows_of(user_id) == before
