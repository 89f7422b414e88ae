"""Isolation between users and CSRF on every alt-backend route, with the route list taken from
the routers themselves so that a new route is covered (or makes these tests fail) by itself.

- AUTH-05: every state-changing route refuses a request without the CSRF token, or with another
  session's token (403), and is not reachable by GET (405) unless GET is a read of its own.
- AUTH-09: user A holding user B's ids gets, on every route that takes an id and with every
  method, exactly the answer for a missing object (404); B's rows are byte-for-byte unchanged.
  The routes without ids never show, count or change B's data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute

from alt.backend.service import parts
from alt.config import load_settings
from tests.auth.conftest import Browser
from tests.backend.conftest import BackendStack

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
INTERNAL_PREFIX = "/v1/internal/"
# Routes whose answers are the same for every user (no user data, no ids of objects).
USERLESS_PREFIXES = ("/v1/images/",)
MISSING_ID = 2**62
OPML = (
    b'<?xml version="1.0"?><opml version="2.0"><head/><body>'
    b'<outline text="x" xmlUrl="https://isolation.example.org/feed"/></body></opml>'
)


def backend_routes() -> list[APIRoute]:
    routers = parts(load_settings()).routers
    return [
        route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        and not route.path.startswith((INTERNAL_PREFIX, *USERLESS_PREFIXES))
    ]


def route_methods() -> list[tuple[str, str]]:
    found = sorted(
        (method, route.path_format)  # `{id:int}` reads `{id}`
        for route in backend_routes()
        for method in route.methods or ()
        if method != "HEAD"
    )
    assert len(found) >= 12, found  # the list really comes from the routers
    return found


def state_changing() -> list[tuple[str, str]]:
    return [(method, path) for method, path in route_methods() if method in UNSAFE]


def with_ids() -> list[tuple[str, str]]:
    return [(method, path) for method, path in route_methods() if "{" in path]


def get_paths() -> set[str]:
    return {path for method, path in route_methods() if method == "GET"}


# A valid request for each state-changing route (so that only CSRF or ownership can stop it).
# A route missing here fails `test_every_state_changing_route_has_a_request`.
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/feeds/discover"): {"json": {"url": "https://isolation.example.org/feed"}},
    ("POST", "/v1/subscriptions"): {"json": {"url": "https://isolation.example.org/feed"}},
    ("PATCH", "/v1/subscriptions/{id}"): {"json": {"title": "Hijacked"}},
    ("DELETE", "/v1/subscriptions/{id}"): {},
    ("POST", "/v1/subscriptions/{id}/refresh"): {},
    ("POST", "/v1/categories"): {"json": {"name": "Hijacked"}},
    ("PATCH", "/v1/categories/{id}"): {"json": {"name": "Hijacked"}},
    ("DELETE", "/v1/categories/{id}"): {},
    ("POST", "/v1/opml/import"): {"files": {"file": ("x.opml", OPML, "text/x-opml")}},
    ("PUT", "/v1/articles/{id}/read"): {},
    ("DELETE", "/v1/articles/{id}/read"): {},
    ("PUT", "/v1/articles/{id}/star"): {},
    ("DELETE", "/v1/articles/{id}/star"): {},
    ("POST", "/v1/articles/read"): {"json": {"ids": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}},
    ("POST", "/v1/articles/unread"): {"json": {"ids": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}},
    ("POST", "/v1/articles/mark-read"): {
        "json": {"scope": "all", "before": "2100-01-01T00:00:00Z"}
    },
}
# Streams never end by themselves; tests/backend/test_stats.py reads them.
STREAMS = ("/v1/sse/",)


@dataclass
class Person:
    browser: Browser
    id: uuid.UUID
    subscription: int
    category: int
    feed: int
    feed_url: str
    article: int

    def ids(self) -> dict[str, int]:
        return {
            "/v1/subscriptions/": self.subscription,
            "/v1/categories/": self.category,
            "/v1/articles/": self.article,
        }

    def concrete(self, path: str) -> str:
        for prefix, object_id in self.ids().items():
            if path.startswith(prefix + "{id}"):
                return path.replace("{id}", str(object_id))
        assert "{" not in path, f"no id of this person fits {path}"
        return path


async def person(stack: BackendStack, name: str) -> Person:
    browser, user_id = await stack.user(f"{name}@example.org")
    folder = await browser.call("POST", "/api/v1/categories", {"name": f"{name}'s folder"})
    feed_url = stack.feeds.url(f"/feeds/{name}-only.xml")
    made = await browser.call(
        "POST",
        "/api/v1/subscriptions",
        {"url": feed_url, "title": f"{name}'s title", "category_id": folder.json()["id"]},
    )
    assert made.status_code == 201, made.text
    feed_id = made.json()["feed"]["id"]
    stack.app(
        "INSERT INTO read_states (user_id, article_id, feed_id)"
        " SELECT %s, id, feed_id FROM articles WHERE feed_id = %s LIMIT 4",
        (user_id, feed_id),
    )
    stack.app(
        "INSERT INTO favorites (user_id, article_id)"
        " SELECT %s, id FROM articles WHERE feed_id = %s LIMIT 2",
        (user_id, feed_id),
    )
    # An article neither read nor starred, so that any change to it would show.
    (article,) = stack.app(
        "SELECT id FROM articles a WHERE feed_id = %s AND NOT EXISTS"
        " (SELECT 1 FROM read_states r WHERE r.article_id = a.id) AND NOT EXISTS"
        " (SELECT 1 FROM favorites f WHERE f.article_id = a.id) ORDER BY id LIMIT 1",
        (feed_id,),
    )
    return Person(
        browser, user_id, made.json()["id"], folder.json()["id"], feed_id, feed_url, article["id"]
    )


@pytest.fixture(scope="module")
async def people(stack: BackendStack) -> tuple[Person, Person]:
    return await person(stack, "alice"), await person(stack, "bob")


def feed_state(stack: BackendStack, feed_id: int) -> list[dict[str, Any]]:
    return stack.app("SELECT next_check_at FROM feeds WHERE id = %s", (feed_id,))


def test_every_state_changing_route_has_a_request() -> None:
    assert set(REQUESTS) == set(state_changing())


@pytest.mark.parametrize(("method", "path"), state_changing())
async def test_state_changing_routes_need_this_sessions_csrf_token(
    stack: BackendStack, people: tuple[Person, Person], method: str, path: str
) -> None:
    """AUTH-05."""
    alice, bob = people
    url = "/api" + alice.concrete(path)
    before = {p.id: stack.rows_of(p.id) for p in people}
    feed = feed_state(stack, alice.feed)
    missing = await alice.browser.call(method, url, csrf=False, **REQUESTS[(method, path)])
    assert missing.status_code == 403, (method, url, missing.text)
    assert missing.json()["code"] == "csrf_failed"
    foreign = await alice.browser.call(
        method, url, headers={"X-CSRF-Token": bob.browser.csrf or ""}, **REQUESTS[(method, path)]
    )
    assert foreign.status_code == 403, (method, url, foreign.text)
    assert foreign.json()["code"] == "csrf_failed"
    if path not in get_paths():
        assert (await alice.browser.call("GET", url)).status_code == 405
    # alt-backend checks it itself: a user token minted without the CSRF check is refused.
    direct = await stack.direct(
        alice.browser, method, alice.concrete(path), csrf_checked=False, **REQUESTS[(method, path)]
    )
    assert direct.status_code == 403, (method, path, direct.text)
    assert direct.json()["code"] == "csrf_failed"
    assert direct.headers["cache-control"] == "private, no-store"
    assert {p.id: stack.rows_of(p.id) for p in people} == before
    assert feed_state(stack, alice.feed) == feed


@pytest.mark.parametrize(("method", "path"), with_ids())
async def test_another_users_ids_answer_like_missing_ones(
    stack: BackendStack, people: tuple[Person, Person], method: str, path: str
) -> None:
    """AUTH-09."""
    alice, bob = people
    request = REQUESTS.get((method, path), {})
    before = stack.rows_of(bob.id)
    feed = feed_state(stack, bob.feed)
    theirs = await alice.browser.call(method, "/api" + bob.concrete(path), **request)
    missing = await alice.browser.call(
        method, "/api" + path.replace("{id}", str(MISSING_ID)), **request
    )
    assert theirs.status_code == 404, (method, path, theirs.text)
    assert theirs.json()["code"] == "not_found"
    assert (missing.status_code, missing.json()) == (theirs.status_code, theirs.json())
    assert theirs.headers["cache-control"] == "private, no-store"
    assert stack.rows_of(bob.id) == before
    assert feed_state(stack, bob.feed) == feed
    # Bob still sees his own object as it was.
    if method != "DELETE":
        mine = await bob.browser.call("GET", "/api" + bob.concrete(path).removesuffix("/refresh"))
        assert mine.status_code in (200, 405)


async def test_routes_without_ids_never_show_or_touch_another_users_data(
    stack: BackendStack, people: tuple[Person, Person]
) -> None:
    alice, bob = people
    before = stack.rows_of(bob.id)
    secrets = [bob.feed_url, "bob's title", "bob's folder"]
    reads = [
        await alice.browser.call("GET", "/api" + path)
        for path in sorted(get_paths())
        if "{" not in path and not path.startswith(STREAMS)
    ]
    assert len(reads) >= 3
    for response in reads:
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, no-store"
        for secret in secrets:
            assert secret not in response.text, (response.url, secret)
    listed = (await alice.browser.call("GET", "/api/v1/subscriptions")).json()
    assert [s["id"] for s in listed["subscriptions"]] == [alice.subscription]
    folders = (await alice.browser.call("GET", "/api/v1/categories")).json()
    assert [c["id"] for c in folders["categories"]] == [alice.category]
    # Bob's folder in Alice's requests is a missing folder.
    into_bobs = await alice.browser.call(
        "POST",
        "/api/v1/subscriptions",
        {"url": stack.feeds.url("/feeds/alice-2.xml"), "category_id": bob.category},
    )
    assert into_bobs.status_code == 404
    moved = await alice.browser.call(
        "PATCH", f"/api/v1/subscriptions/{alice.subscription}", {"category_id": bob.category}
    )
    assert moved.status_code == 404
    # Names are per user: Bob's folder name is free for Alice (no 409 telling it exists).
    same_name = await alice.browser.call("POST", "/api/v1/categories", {"name": "bob's folder"})
    assert same_name.status_code == 201
    # Alice may read Bob's feed too; that is her subscription, not his.
    same_feed = await alice.browser.call("POST", "/api/v1/subscriptions", {"url": bob.feed_url})
    assert same_feed.status_code == 201
    assert same_feed.json()["title"] == "Feed bob-only"
    assert same_feed.json()["unread_count"] == 25  # Bob's read marks are his
    imported = await alice.browser.call(
        "POST",
        "/api/v1/opml/import",
        files={
            "file": (
                "x.opml",
                f'<opml version="2.0"><body><outline text="b" xmlUrl="{bob.feed_url}"/>'
                "</body></opml>".encode(),
                "text/x-opml",
            )
        },
    )
    assert imported.json()["skipped"][0]["reason"] == "already subscribed"
    assert stack.rows_of(bob.id) == before
    # Alice as she was: Bob's articles are not hers again for the tests after this one.
    for path in (
        f"/api/v1/subscriptions/{same_feed.json()['id']}",
        f"/api/v1/categories/{same_name.json()['id']}",
    ):
        assert (await alice.browser.call("DELETE", path)).status_code == 204
