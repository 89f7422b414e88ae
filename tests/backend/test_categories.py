"""Categories through the edge: create, list with counts, rename, names unique per user
regardless of case (409), delete leaving subscriptions uncategorised, validation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.auth.conftest import Browser
from tests.backend.conftest import BackendStack

PRIVATE = "private, no-store"


@pytest.fixture(scope="module")
async def owner(stack: BackendStack) -> tuple[Browser, uuid.UUID]:
    return await stack.user("folders@example.org")


async def make(browser: Browser, name: str) -> dict[str, Any]:
    response = await browser.call("POST", "/api/v1/categories", {"name": name})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == PRIVATE
    body: dict[str, Any] = response.json()
    return body


async def test_create_list_rename_delete(stack: BackendStack) -> None:
    browser, user_id = await stack.user("cycle@example.org")
    news = await make(browser, "  News \n today ")
    assert news["name"] == "News today"
    tech = await make(browser, "Tech")
    sub = await browser.call(
        "POST",
        "/api/v1/subscriptions",
        {"url": stack.feeds.url("/feeds/cat1.xml"), "category_id": tech["id"]},
    )
    assert sub.status_code == 201, sub.text
    stack.app(
        "INSERT INTO read_states (user_id, article_id, feed_id) SELECT %s, id, feed_id"
        " FROM articles WHERE feed_id = %s ORDER BY id LIMIT 5",
        (user_id, sub.json()["feed"]["id"]),
    )

    listed = await browser.call("GET", "/api/v1/categories")
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == PRIVATE
    by_name = {c["name"]: c for c in listed.json()["categories"]}
    assert list(by_name) == ["News today", "Tech"]
    assert by_name["Tech"]["subscription_count"] == 1
    assert by_name["Tech"]["unread_count"] == 20
    assert by_name["News today"]["subscription_count"] == 0
    assert by_name["News today"]["unread_count"] == 0

    renamed = await browser.call(
        "PATCH", f"/api/v1/categories/{tech['id']}", {"name": "Technology"}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {"id": tech["id"], "name": "Technology"}
    shown = await browser.call("GET", f"/api/v1/subscriptions/{sub.json()['id']}")
    assert shown.json()["category"] == {"id": tech["id"], "name": "Technology"}

    deleted = await browser.call("DELETE", f"/api/v1/categories/{tech['id']}")
    assert deleted.status_code == 204
    assert deleted.headers["cache-control"] == PRIVATE
    kept = await browser.call("GET", f"/api/v1/subscriptions/{sub.json()['id']}")
    assert kept.status_code == 200
    assert kept.json()["category"] is None
    assert stack.app(
        "SELECT category_id FROM subscriptions WHERE id = %s", (sub.json()["id"],)
    ) == [{"category_id": None}]
    assert (await browser.call("DELETE", f"/api/v1/categories/{tech['id']}")).status_code == 404
    assert (
        await browser.call("PATCH", f"/api/v1/categories/{tech['id']}", {"name": "Back"})
    ).status_code == 404


async def test_names_are_unique_per_user_regardless_of_case(stack: BackendStack) -> None:
    # A user of its own: the list of names at the end is this test's alone.
    browser, user_id = await stack.user("unique-names@example.org")
    first = await make(browser, "Science")
    other = await make(browser, "Arts")
    for name in ("Science", "science", "SCIENCE", " science "):
        clash = await browser.call("POST", "/api/v1/categories", {"name": name})
        assert clash.status_code == 409, name
        assert clash.json()["code"] == "category_exists"
        assert "\u201cScience\u201d" in clash.json()["message"]
        assert clash.json()["details"] == {"category_id": first["id"]}
    rename = await browser.call("PATCH", f"/api/v1/categories/{other['id']}", {"name": "sciENCE"})
    assert rename.status_code == 409
    assert rename.json()["details"] == {"category_id": first["id"]}
    recase = await browser.call("PATCH", f"/api/v1/categories/{first['id']}", {"name": "SCIENCE"})
    assert recase.status_code == 200  # its own name in another case is no clash
    assert recase.json()["name"] == "SCIENCE"
    names = stack.app("SELECT name FROM categories WHERE user_id = %s ORDER BY name", (user_id,))
    assert [r["name"] for r in names] == ["Arts", "SCIENCE"]
    # Another user may have the same name.
    someone, _ = await stack.user("someone@example.org")
    assert (await make(someone, "science"))["name"] == "science"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": " \t\n "}, "name"),
        ({"name": "\u0007\u001b"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 7}, "name"),
        ({"name": "ok", "parent_id": 1}, "parent_id"),
    ],
)
async def test_bad_category_bodies_get_422(
    owner: tuple[Browser, uuid.UUID], body: dict[str, Any], field: str
) -> None:
    browser, _ = owner
    for method, path in (("POST", "/api/v1/categories"), ("PATCH", "/api/v1/categories/1")):
        response = await browser.call(method, path, body)
        assert response.status_code == 422, (method, response.text)
        assert response.json()["code"] == "validation_failed"
        assert field in [d["field"] for d in response.json()["details"]]


async def test_control_characters_are_cleaned_from_names(owner: tuple[Browser, uuid.UUID]) -> None:
    browser, _ = owner
    made = await make(browser, "Bad\u0007\u001b[31mname")
    assert made["name"] == "Badname"
