"""Deleting a user deletes all of that user's application data (auth-service calls
`DELETE /v1/internal/users/{id}` on alt-backend), and only auth-service may ask."""

from __future__ import annotations

import uuid

import httpx

from tests.auth.conftest import Browser
from tests.backend.conftest import USER_TABLES, BackendStack


async def give_data(stack: BackendStack, browser: Browser, user_id: uuid.UUID, feed: str) -> None:
    """Rows in every per-user table: a folder, a subscription, read marks, stars and an
    Inoreader link with its own rows."""
    folder = await browser.call("POST", "/api/v1/categories", {"name": "Folder"})
    made = await browser.call(
        "POST",
        "/api/v1/subscriptions",
        {"url": stack.feeds.url(feed), "category_id": folder.json()["id"]},
    )
    assert made.status_code == 201, made.text
    feed_id = made.json()["feed"]["id"]
    stack.app(
        "INSERT INTO read_states (user_id, article_id, feed_id)"
        " SELECT %s, id, feed_id FROM articles WHERE feed_id = %s",
        (user_id, feed_id),
    )
    stack.app(
        "INSERT INTO favorites (user_id, article_id)"
        " SELECT %s, id FROM articles WHERE feed_id = %s LIMIT 3",
        (user_id, feed_id),
    )
    account = stack.app(
        "INSERT INTO inoreader_accounts (user_id) VALUES (%s) RETURNING id", (user_id,)
    )[0]["id"]
    stack.app(
        "INSERT INTO inoreader_subscriptions (account_id, inoreader_id, feed_url)"
        " VALUES (%s, %s, %s)",
        (account, f"feed/{feed}", stack.feeds.url(feed)),
    )
    assert all(stack.rows_of(user_id).values())


async def test_deleting_a_user_deletes_their_application_data(stack: BackendStack) -> None:
    doomed, doomed_id = await stack.user("doomed@example.org")
    keeper, keeper_id = await stack.user("keeper@example.org")
    await give_data(stack, doomed, doomed_id, "/feeds/purge-shared.xml")
    await give_data(stack, keeper, keeper_id, "/feeds/purge-shared.xml")
    kept = stack.rows_of(keeper_id)
    feeds = stack.app("SELECT count(*) AS n FROM feeds")
    articles = stack.app("SELECT count(*) AS n FROM articles")

    stack.make_user("purge-admin@example.org", admin=True)
    admin = stack.browser()
    assert (await admin.login("purge-admin@example.org")).status_code == 200
    deleted = await admin.call("DELETE", f"/api/auth/user/{doomed_id}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"status": "deleted", "app_data": "deleted"}

    assert stack.rows_of(doomed_id) == {table: [] for table in USER_TABLES}
    assert stack.app(
        "SELECT count(*) AS n FROM inoreader_subscriptions s"
        " JOIN inoreader_accounts a ON a.id = s.account_id"
        " WHERE a.user_id = %s",
        (doomed_id,),
    ) == [{"n": 0}]
    assert stack.app("SELECT count(*) AS n FROM inoreader_subscriptions") == [{"n": 1}]
    assert stack.rows_of(keeper_id) == kept
    assert stack.app("SELECT count(*) AS n FROM feeds") == feeds  # shared content stays
    assert stack.app("SELECT count(*) AS n FROM articles") == articles
    assert stack.sql("SELECT 1 FROM user_purges WHERE user_id = %s", (doomed_id,)) == []


async def test_only_auth_service_may_purge(stack: BackendStack) -> None:
    victim, victim_id = await stack.user("victim@example.org")
    await give_data(stack, victim, victim_id, "/feeds/purge-victim.xml")
    rows = stack.rows_of(victim_id)
    path = f"/v1/internal/users/{victim_id}"
    for caller in ("alt-frontend", "pre-processor", "search-indexer", "pre-processor-sidecar"):
        async with stack.as_service(caller, "alt-backend") as client:
            response = await client.delete(path)
        assert response.status_code == 403, caller
        assert response.json()["code"] == "forbidden"
    # A user, even with a valid user token, is not a service.
    as_user = await stack.direct(victim, "DELETE", path)
    assert as_user.status_code == 403
    # No service token at all; and through the edge, which does not pass /internal on.
    backend = stack.settings.service_url("alt-backend")
    async with httpx.AsyncClient(base_url=backend) as anonymous:
        unsigned = await anonymous.delete(path)
        forged = await anonymous.delete(
            path, headers={"X-Service-Token": stack.service_token("auth-service", "pre-processor")}
        )
    assert unsigned.status_code == 401
    assert forged.status_code == 401  # a token for another service
    for method in ("GET", "DELETE", "POST"):
        edge = await victim.call(method, f"/api/v1/internal/users/{victim_id}")
        assert edge.status_code == 404
    assert stack.rows_of(victim_id) == rows

    async with stack.as_service("auth-service", "alt-backend") as auth:
        first = await auth.delete(path)
        second = await auth.delete(path)  # idempotent: auth-service retries until it hears 2xx
        unknown = await auth.delete(f"/v1/internal/users/{uuid.uuid4()}")
        malformed = await auth.delete("/v1/internal/users/not-a-uuid")
    assert [first.status_code, second.status_code, unknown.status_code] == [204, 204, 204]
    assert malformed.status_code == 422
    assert stack.rows_of(victim_id) == {table: [] for table in USER_TABLES}
