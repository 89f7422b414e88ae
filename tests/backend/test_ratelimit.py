"""alt-backend's guards against denial of service (`alt.platform.ratelimit`), served for real:
per-address and per-user token buckets (small ones here, `ALT_RATE_*`), request deadlines
(`ALT_REQUEST_DEADLINE_*`) that leave the stats stream alone, and the body size cap."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from alt.backend.images import sign_image_url
from alt.config import Settings
from alt.platform.identity import USER_TOKEN_HEADER
from alt.platform.ratelimit import CLIENT_IP_HEADER, TokenBuckets
from alt.platform.service_tokens import HEADER as SERVICE_TOKEN_HEADER
from tests.auth.conftest import Browser
from tests.backend.conftest import DEAD_HOST, BackendStack
from tests.backend.support import FeedOrigin
from tests.backend.test_images import ImageOrigin
from tests.helpers import loopback_urls, with_overrides

USER_BURST = 5
IP_BURST = 8
DEADLINE_S = 1.0
STATS_EVERY_S = 0.4


@pytest.fixture(scope="module")
async def image_origin() -> AsyncIterator[ImageOrigin]:
    origin = await ImageOrigin().start()
    yield origin
    await origin.close()


@pytest.fixture(scope="module")
def fetch_env(feed_origin: FeedOrigin, dead_port: int, image_origin: ImageOrigin) -> Iterator[None]:
    """Small buckets that barely refill, a short read deadline, a quick stats stream."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "ALT_FETCH_ALLOW_PRIVATE_HOSTS",
            f"127.0.0.1:{feed_origin.port},127.0.0.1:{dead_port},{DEAD_HOST}:{dead_port},"
            f"127.0.0.1:{image_origin.port}",
        )
        patch.setenv("ALT_FETCH_READ_TIMEOUT_S", "5")
        patch.setenv("ALT_RATE_USER_BURST", str(USER_BURST))
        patch.setenv("ALT_RATE_USER_PER_S", "0.01")
        patch.setenv("ALT_RATE_IP_BURST", str(IP_BURST))
        patch.setenv("ALT_RATE_IP_PER_S", "0.01")
        patch.setenv("ALT_REQUEST_DEADLINE_READ_S", str(DEADLINE_S))
        patch.setenv("ALT_STATS_STREAM_EVERY_S", str(STATS_EVERY_S))
        patch.setenv("ALT_STATS_STREAM_HEARTBEAT_S", "0.2")
        yield


@pytest.fixture(scope="module")
def stack_settings(settings: Settings, auth_db: str, app_db: str, fetch_env: None) -> Settings:
    """As in conftest, with a small request body cap."""
    return with_overrides(
        settings,
        AUTH_DATABASE_URL=auth_db,
        DATABASE_URL=app_db,
        ALT_MAX_REQUEST_BYTES="4096",
        **loopback_urls(),
    )


async def as_edge(
    stack: BackendStack,
    path: str,
    *,
    token: str | None = None,
    client_ip: str | None = None,
    caller: str = "alt-frontend",
    method: str = "GET",
    **kwargs: Any,
) -> httpx.Response:
    headers = {}
    if token is not None:
        headers[USER_TOKEN_HEADER] = token
    if client_ip is not None:
        headers[CLIENT_IP_HEADER] = client_ip
    async with stack.as_service(caller, "alt-backend") as client:
        return await client.request(method, path, headers=headers, **kwargs)


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    assert response.json()["error"] == "Too Many Requests"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 101


async def new_user(stack: BackendStack) -> tuple[Browser, str]:
    browser, _ = await stack.user(f"rl-{uuid.uuid4().hex[:8]}@example.org")
    return browser, await stack.user_token(browser)


async def test_a_users_burst_is_capped_and_other_users_are_unaffected(
    stack: BackendStack,
) -> None:
    _, alice = await new_user(stack)
    _, bob = await new_user(stack)
    for _ in range(USER_BURST):
        assert (await as_edge(stack, "/v1/unread-counts", token=alice)).status_code == 200
    assert_limited(await as_edge(stack, "/v1/unread-counts", token=alice))
    # Another route, another client address: still alice's bucket.
    assert_limited(await as_edge(stack, "/v1/stats", token=alice, client_ip="198.51.100.1"))
    assert (await as_edge(stack, "/v1/unread-counts", token=bob)).status_code == 200
    # Health stays open to probes whatever the buckets say.
    assert (await as_edge(stack, "/v1/live", token=alice)).status_code == 200


async def test_an_addresss_burst_is_capped_and_other_addresses_are_unaffected(
    stack: BackendStack,
) -> None:
    # The image route needs no user: only the address counts. A made-up link answers 403 at
    # once, without fetching anything.
    path = f"/v1/images/{'A' * 43}/aHR0cDovL2V4YW1wbGUub3JnLw"
    for _ in range(IP_BURST):
        assert (await as_edge(stack, path, client_ip="203.0.113.7")).status_code == 403
    assert_limited(await as_edge(stack, path, client_ip="203.0.113.7"))
    assert (await as_edge(stack, path, client_ip="203.0.113.8")).status_code == 403
    # IPv6 addresses share their /64.
    for i in range(IP_BURST):
        answer = await as_edge(stack, path, client_ip=f"2001:db8:0:7::{i + 1:x}")
        assert answer.status_code == 403
    assert_limited(await as_edge(stack, path, client_ip="2001:db8:0:7::ffff"))
    assert (await as_edge(stack, path, client_ip="2001:db8:0:8::1")).status_code == 403


async def test_the_client_address_header_is_believed_from_the_edge_only(
    stack: BackendStack,
) -> None:
    """From another service the socket peer counts, whatever X-Alt-Client-IP says. (The peer
    is 127.0.0.2, a bucket of its own: the edge calls from 127.0.0.1.)"""
    path = f"/v1/images/{'B' * 43}/aHR0cDovL2V4YW1wbGUub3JnLw"
    token = stack.service_token("pre-processor", "alt-backend")
    async with httpx.AsyncClient(
        base_url=stack.settings.service_url("alt-backend"),
        transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
        headers={SERVICE_TOKEN_HEADER: token},
    ) as other_service:
        answers = [
            await other_service.get(path, headers={CLIENT_IP_HEADER: f"192.0.2.{i + 1}"})
            for i in range(IP_BURST + 1)
        ]
    assert [a.status_code for a in answers[:IP_BURST]] == [403] * IP_BURST
    assert_limited(answers[IP_BURST])
    # The edge's own requests with a browser's address are not held by that peer's bucket.
    assert (await as_edge(stack, path, client_ip="192.0.2.200")).status_code == 403


async def test_the_edge_relays_the_429_with_retry_after(stack: BackendStack) -> None:
    browser, _ = await new_user(stack)
    answers = [await browser.call("GET", "/api/v1/unread-counts") for _ in range(USER_BURST + 1)]
    assert [a.status_code for a in answers[:USER_BURST]] == [200] * USER_BURST
    assert_limited(answers[USER_BURST])


async def test_a_slow_handler_is_stopped_at_its_deadline(
    stack: BackendStack, image_origin: ImageOrigin
) -> None:
    path = sign_image_url(
        image_origin.url("/slow.png?s=3"), settings=stack.settings, prefix="/v1/images"
    )
    # The origin answers after 3 s; the answer says the deadline (1 s) cut the handler short.
    answer = await as_edge(stack, path, client_ip="203.0.113.50")
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "deadline_exceeded"
    assert "retry-after" in answer.headers
    quick = sign_image_url(
        image_origin.url("/pic.png"), settings=stack.settings, prefix="/v1/images"
    )
    assert (await as_edge(stack, quick, client_ip="203.0.113.50")).status_code == 200


async def test_the_stats_stream_outlives_the_deadline(stack: BackendStack) -> None:
    _, token = await new_user(stack)
    # Stats come every STATS_EVERY_S from the start: this many outlast the deadline thrice.
    wanted = int(3 * DEADLINE_S / STATS_EVERY_S) + 2
    events = 0
    async with (
        stack.as_service("alt-frontend", "alt-backend") as client,
        client.stream(
            "GET", "/v1/sse/feeds/stats", headers={USER_TOKEN_HEADER: token}, timeout=10
        ) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            events += line.startswith("event: stats")
            if events == wanted:
                break
    assert events == wanted


async def test_bodies_over_the_cap_are_refused(stack: BackendStack) -> None:
    browser, _ = await new_user(stack)
    token = await stack.user_token(browser, unsafe=True)
    answer = await as_edge(
        stack,
        "/v1/subscriptions",
        token=token,
        method="POST",
        content=b'{"url": "' + b"a" * 5000 + b'"}',
        client_ip="203.0.113.60",
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"


def test_buckets_refill_bound_their_memory_and_say_how_long_to_wait() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_s=2.0, burst=3, max_keys=100, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    now[0] += 100.0  # a long pause refills to the burst, not beyond
    assert [buckets.take("a") for _ in range(4)][-1] > 0
    for i in range(1000):
        buckets.take(f"k{i}")
    assert len(buckets) == 100


async def test_concurrent_bursts_let_exactly_the_burst_through(stack: BackendStack) -> None:
    _, token = await new_user(stack)
    answers = await asyncio.gather(
        *(as_edge(stack, "/v1/unread-counts", token=token) for _ in range(USER_BURST * 3))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) == USER_BURST
    assert codes.count(429) == USER_BURST * 2
