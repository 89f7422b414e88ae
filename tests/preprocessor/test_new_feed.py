"""The pre-processor's discover endpoint, served for real: a feed, a page naming its feed,
a page naming none, a feed that cannot be parsed, an address we must not fetch; and what
alt-backend makes of its answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alt.backend import feed_address
from alt.config import Settings
from alt.feeds import parse as feed_parse
from alt.platform.errors import AltError
from alt.platform.http_app import ServiceContext
from alt.platform.service_client import ServiceClient
from alt.platform.service_tokens import HEADER, KeyRing, ServiceTokens
from alt.preprocessor import parse_worker
from alt.services import SERVICES
from tests.helpers import free_port, loopback_urls, running, serving, with_overrides
from tests.preprocessor.conftest import RunningFarm
from tests.support.farm import ITEMS

GOOD = b"<rss version='2.0'><channel><title>Good</title><item><guid>1</guid></item></channel></rss>"
# Refused whatever we do: an external entity (XXE).
REFUSED = (
    b'<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<rss version='2.0'><channel><title>&x;</title></channel></rss>"
)
DOCUMENTS = {"good.xml": GOOD, "crash.xml": GOOD, "refused.xml": REFUSED}


async def _document(request: Request) -> Response:
    return Response(DOCUMENTS[request.path_params["name"]], media_type="application/rss+xml")


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    port = free_port()
    async with serving({port: Starlette(routes=[Route("/{name}", _document)])}):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def parse_workers() -> str:
    return "1"


@pytest.fixture
async def preprocessed(
    settings: Settings,
    app_url: str,
    farm: RunningFarm,
    origin: str,
    parse_workers: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Settings]:
    """The pre-processor served on loopback, allowed to fetch from the farm and the origin."""
    origin_port = origin.rsplit(":", 1)[1]
    monkeypatch.setenv("ALT_FETCH_ALLOWED_PORTS", f"{farm.port},{origin_port}")
    monkeypatch.setenv(
        "ALT_FETCH_ALLOW_PRIVATE_HOSTS", f"127.0.0.1:{farm.port},127.0.0.1:{origin_port}"
    )
    monkeypatch.setenv("ALT_INGEST_PARSE_WORKERS", parse_workers)
    own = with_overrides(settings, DATABASE_URL=app_url, **loopback_urls())
    async with running(own, "pre-processor"):
        yield own


def _tokens(settings: Settings, caller: str) -> ServiceTokens:
    assert settings.service_keys_file is not None
    return ServiceTokens(caller, KeyRing.load(settings.service_keys_file))


@pytest.fixture
async def preprocessor(preprocessed: Settings) -> AsyncIterator[httpx.AsyncClient]:
    token = _tokens(preprocessed, "alt-backend").issue("pre-processor")
    async with httpx.AsyncClient(
        base_url=preprocessed.service_url("pre-processor"), headers={HEADER: token}, timeout=30
    ) as client:
        yield client


@pytest.fixture
async def backend(preprocessed: Settings) -> AsyncIterator[ServiceContext]:
    """What alt-backend's subscribe path holds: its settings, tokens and service client."""
    tokens = _tokens(preprocessed, "alt-backend")
    services = ServiceClient(preprocessed, tokens)
    yield ServiceContext(SERVICES["alt-backend"], preprocessed, tokens, services)
    await services.aclose()


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


async def test_a_feed_that_cannot_be_parsed_says_why(
    preprocessor: httpx.AsyncClient, backend: ServiceContext, origin: str
) -> None:
    url = f"{origin}/refused.xml"
    answer = await preprocessor.post("/v1/feeds/discover", json={"url": url})
    assert answer.status_code == 422
    assert answer.json()["code"] == "feed_unreadable"
    assert answer.json()["message"].startswith(f"The feed at {url} could not be parsed: XML entity")
    with pytest.raises(AltError) as refused:
        await feed_address.discover(backend, url)
    assert (refused.value.status, refused.value.code) == (422, "feed_unreadable")
    assert refused.value.message == answer.json()["message"]


@pytest.mark.parametrize("parse_workers", ["0"])
async def test_a_parser_bug_in_process_is_a_reason_not_a_503(
    preprocessor: httpx.AsyncClient,
    backend: ServiceContext,
    origin: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No known document breaks the parser any more: inject an error no parser code expects.
    real_parse = feed_parse.parse_feed

    def breaks_on_crash(body: bytes, *, url: str, **kwargs: Any) -> feed_parse.ParsedFeed:
        if url.endswith("/crash.xml"):
            raise LookupError("a bug")
        return real_parse(body, url=url, **kwargs)

    monkeypatch.setattr(parse_worker, "parse_feed", breaks_on_crash)
    with pytest.raises(AltError) as refused:
        await feed_address.discover(backend, f"{origin}/crash.xml")
    assert (refused.value.status, refused.value.code) == (422, "feed_unreadable")
    assert "could not be parsed: the parser failed on this feed (LookupError)" in (
        refused.value.message
    )
    found = await feed_address.discover(backend, f"{origin}/good.xml")  # the service carries on
    assert found.title == "Good"
    ready = (await preprocessor.get("/v1/ready")).json()["details"]
    assert ready["fetcher"] == ready["feed listener"] == "ok"
