"""Choosing a feed before subscribing: `POST /v1/feeds/discover` lists the feed at a URL, or
every feed a web page announces (with the caller's subscription to each), and stores nothing;
a subscription's feed says when it is checked next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.backend.conftest import BackendStack


async def test_a_site_with_two_feeds_offers_both_and_stores_nothing(stack: BackendStack) -> None:
    browser, user_id = await stack.user("choices@example.org")
    feeds_before = stack.app("SELECT count(*) AS n FROM feeds")
    response = await browser.call(
        "POST", "/api/v1/feeds/discover", {"url": stack.feeds.url("/site/north+south/")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["feeds"] == [
        {
            "url": stack.feeds.url("/feeds/north.xml"),
            "title": "Feed north",
            "subscription_id": None,
        },
        {
            "url": stack.feeds.url("/feeds/south.xml"),
            "title": "Feed south",
            "subscription_id": None,
        },
    ]
    assert stack.app("SELECT count(*) AS n FROM feeds") == feeds_before
    assert stack.rows_of(user_id)["subscriptions"] == []

    made = await browser.call(
        "POST", "/api/v1/subscriptions", {"url": stack.feeds.url("/feeds/south.xml")}
    )
    assert made.status_code == 201, made.text
    again = await browser.call(
        "POST", "/api/v1/feeds/discover", {"url": stack.feeds.url("/site/north+south/")}
    )
    assert [f["subscription_id"] for f in again.json()["feeds"]] == [None, made.json()["id"]]


async def test_a_feed_url_is_its_own_only_choice(stack: BackendStack) -> None:
    browser, _ = await stack.user("one-choice@example.org")
    url = stack.feeds.url("/feeds/single.xml")
    response = await browser.call("POST", "/api/v1/feeds/discover", {"url": url})
    assert response.status_code == 200, response.text
    assert response.json()["feeds"] == [
        {"url": url, "title": "Feed single", "subscription_id": None}
    ]


async def test_no_feed_a_refused_or_dead_address_says_why(stack: BackendStack) -> None:
    browser, _ = await stack.user("no-choice@example.org")
    for url, code in (
        (stack.feeds.url("/plain.html"), "not_a_feed"),
        ("http://169.254.169.254/latest/", "blocked_url"),
        (stack.dead_url, "fetch_connect"),
        ("", "validation_failed"),
    ):
        response = await browser.call("POST", "/api/v1/feeds/discover", {"url": url})
        assert response.status_code == 422, (url, response.text)
        assert response.json()["code"] == code, url


async def test_a_subscription_says_when_its_feed_is_checked_next(stack: BackendStack) -> None:
    browser, _ = await stack.user("next-check@example.org")
    made = await browser.call(
        "POST", "/api/v1/subscriptions", {"url": stack.feeds.url("/feeds/nextcheck.xml")}
    )
    assert made.status_code == 201, made.text
    later = datetime.now(UTC) + timedelta(hours=3)
    stack.app(
        "UPDATE feeds SET next_check_at = %s WHERE id = %s", (later, made.json()["feed"]["id"])
    )
    shown = await browser.call("GET", f"/api/v1/subscriptions/{made.json()['id']}")
    assert datetime.fromisoformat(shown.json()["feed"]["next_check_at"]) == later
