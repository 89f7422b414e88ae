"""The pre-processor's discover endpoint, served for real: a feed, a page naming its feed,
a page naming none, an address we must not fetch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from alt.config import Settings
from alt.platform.service_tokens import HEADER, KeyRing, ServiceTokens
from tests.helpers import loopback_urls, running, with_overrides
from tests.preprocessor.conftest import RunningFarm
from tests.support.farm import ITEMS


@pytest.fixture
async def preprocessor(
    settings: Settings, app_url: str, farm: RunningFarm, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("ALT_FETCH_ALLOWED_PORTS", str(farm.port))
    monkeypatch.setenv("ALT_FETCH_ALLOW_PRIVATE_HOSTS", f"127.0.0.1:{farm.port}")
    own = with_overrides(settings, DATABASE_URL=app_url, **loopback_urls())
    assert own.service_keys_file is not None
    token = ServiceTokens("alt-backend", KeyRing.load(own.service_keys_file)).issue("pre-processor")
    async with (
        running(own, "pre-processor"),
        httpx.AsyncClient(
            base_url=own.service_url("pre-processor"), headers={HEADER: token}, timeout=30
        ) as client,
    ):
        yield client


async def test_a_page_leads_to_its_feed(preprocessor: httpx.AsyncClient, farm: RunningFarm) -> None:
    base = f"http://127.0.0.1:{farm.port}"
    found = await preprocessor.post("/v1/feeds/discover", json={"url": f"{base}/site/10"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["url"] == f"{base}/feed/10"
    assert body["title"] == "Feed 10"
    assert body["inserted"] == ITEMS
    again = await preprocessor.post("/v1/feeds/discover", json={"url": f"{base}/feed/10"})
    assert again.json()["feed_id"] == body["feed_id"]
    assert again.json()["inserted"] == 0


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/feed/41", "not_a_feed"),  # an HTML page naming no feed
        ("/feed/13", "fetch_http_status"),  # 500
    ],
)
async def test_what_is_not_a_feed_is_said_plainly(
    preprocessor: httpx.AsyncClient, farm: RunningFarm, path: str, code: str
) -> None:
    answer = await preprocessor.post(
        "/v1/feeds/discover", json={"url": f"http://127.0.0.1:{farm.port}{path}"}
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == code
    assert answer.json()["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:5432/",
        "file:///etc/passwd",
    ],
)
async def test_forbidden_addresses_are_refused(preprocessor: httpx.AsyncClient, url: str) -> None:
    answer = await preprocessor.post("/v1/feeds/discover", json={"url": url})
    assert answer.status_code == 422
    assert answer.json()["code"] == "fetch_blocked"
