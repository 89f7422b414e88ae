"""Every service, served for real on loopback: health, liveness, readiness, metrics, request ids,
the error envelope, body limits and service-token checks."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter
from pydantic import BaseModel

from alt.config import Settings
from alt.platform.http_app import ServiceParts, create_app
from alt.platform.service_client import ServiceClient
from alt.platform.service_tokens import HEADER, KeyRing, ServiceTokens
from alt.services import SERVICES
from tests.helpers import free_port, loopback_urls, running, with_overrides


class Item(BaseModel):
    url: str
    count: int


PRIVATE_SERVICES = [name for name, spec in SERVICES.items() if not spec.public]


@pytest.fixture(scope="module")
def live_settings(settings: Settings) -> Settings:
    return with_overrides(settings, **loopback_urls())


@pytest.fixture(scope="module")
async def everything(live_settings: Settings) -> AsyncIterator[Settings]:
    async with running(live_settings, *SERVICES):
        yield live_settings


def tokens_of(settings: Settings, service: str) -> ServiceTokens:
    assert settings.service_keys_file is not None
    return ServiceTokens(service, KeyRing.load(settings.service_keys_file))


@pytest.mark.parametrize("name", list(SERVICES))
async def test_health_live_ready_metrics(everything: Settings, name: str) -> None:
    base = everything.service_url(name)
    async with httpx.AsyncClient(base_url=base) as client:
        health = await client.get("/v1/health")
        assert health.status_code == 200
        assert health.json()["service"] == name
        assert isinstance(health.json()["not_built"], list)
        assert (await client.get("/v1/live")).json() == {"status": "alive"}
        ready = await client.get("/v1/ready")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        if SERVICES[name].database is not None:
            assert checks["database"] == "ok"
        for callee in SERVICES[name].calls:
            assert checks[callee] == "ok"
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert (
            f'alt_http_requests_total{{method="GET",route="/v1/health",service="{name}"'
            in metrics.text
        )


@pytest.mark.parametrize("name", PRIVATE_SERVICES)
async def test_calls_without_a_valid_service_token_are_refused(
    everything: Settings, name: str
) -> None:
    caller = "alt-frontend" if name != "alt-frontend" else "alt-backend"
    own = tokens_of(everything, caller)
    stranger_key = Ed25519PrivateKey.generate()
    now = int(time.time())
    expired = jwt.encode(
        {"iss": caller, "aud": name, "iat": now - 600, "exp": now - 300},
        own.keys.private[caller],
        algorithm="EdDSA",
        headers={"kid": caller},
    )
    forged = jwt.encode(
        {"iss": caller, "aud": name, "iat": now, "exp": now + 30},
        stranger_key,
        algorithm="EdDSA",
        headers={"kid": caller},
    )
    unsigned = jwt.encode(
        {"iss": caller, "aud": name, "iat": now, "exp": now + 30},
        None,
        algorithm="none",
        headers={"kid": caller},
    )
    bad_tokens: dict[str, str | None] = {
        "missing": None,
        "wrong audience": own.issue(
            "search-indexer" if name != "search-indexer" else "tag-generator"
        ),
        "expired": expired,
        "forged": forged,
        "unsigned": unsigned,
        "garbage": "not-a-token",
    }
    async with httpx.AsyncClient(base_url=everything.service_url(name)) as client:
        for why, token in bad_tokens.items():
            headers = {HEADER: token} if token else {}
            response = await client.get("/v1/openapi.json", headers=headers)
            assert response.status_code == 401, why
            body = response.json()
            assert body["code"] == "service_token_required", why
            assert set(body) == {"error", "code", "message", "details"}
        good = await client.get("/v1/openapi.json", headers={HEADER: own.issue(name)})
        assert good.status_code == 200


async def test_public_frontend_needs_no_token(everything: Settings) -> None:
    async with httpx.AsyncClient(base_url=everything.service_url("alt-frontend")) as client:
        home = await client.get("/")
        page = await client.get(home.headers["location"])
    assert home.status_code == 303  # to the login page, which needs no token
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_request_id_is_kept_replaced_or_made(everything: Settings) -> None:
    async with httpx.AsyncClient(base_url=everything.service_url("news-creator")) as client:
        kept = await client.get("/v1/health", headers={"X-Request-ID": "req-12345678"})
        replaced = await client.get("/v1/health", headers={"X-Request-ID": "bad id <x>"})
        made = await client.get("/v1/health")
    assert kept.headers["x-request-id"] == "req-12345678"
    assert replaced.headers["x-request-id"] not in ("", "bad id <x>")
    assert len(made.headers["x-request-id"]) == 32


async def test_service_client_propagates_request_id_and_token(everything: Settings) -> None:
    client = ServiceClient(everything, tokens_of(everything, "pre-processor"))
    try:
        with structlog.contextvars.bound_contextvars(request_id="trace-abcdef12"):
            response = await client.get("news-creator", "/v1/openapi.json")
    finally:
        await client.aclose()
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-abcdef12"


async def test_error_envelope_and_limits(everything: Settings) -> None:
    token = tokens_of(everything, "alt-frontend").issue("alt-backend")
    async with httpx.AsyncClient(
        base_url=everything.service_url("alt-backend"), headers={HEADER: token}
    ) as client:
        missing = await client.get("/v1/no-such-route")
        wrong_method = await client.delete("/v1/health")
        too_large = await client.post(
            "/v1/anything", content=b"x" * (everything.max_request_bytes + 1)
        )
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "Not Found",
        "code": "not_found",
        "message": "Not Found",
        "details": None,
    }
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
    assert too_large.status_code == 413
    assert too_large.json()["code"] == "payload_too_large"


async def test_validation_and_unexpected_errors_use_the_envelope(settings: Settings) -> None:
    router = APIRouter()

    @router.post("/v1/items")
    async def add(item: Item) -> dict[str, str]:
        return {"url": item.url}

    @router.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals at /etc/alt password=hunter2")

    spec = SERVICES["alt-backend"]
    tokens = tokens_of(settings, "alt-backend")
    app = create_app(spec, settings, ServiceParts(routers=[router]), tokens)
    caller = tokens_of(settings, "alt-frontend")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={HEADER: caller.issue("alt-backend")}
    ) as client:
        invalid = await client.post("/v1/items", json={"url": "x", "count": "many"})
        crash = await client.get("/v1/boom")

        async def unannounced_stream() -> AsyncIterator[bytes]:
            for _ in range(settings.max_request_bytes // 65536 + 2):
                yield b"y" * 65536

        streamed = await client.post("/v1/items", content=unannounced_stream())
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["code"] == "validation_failed"
    assert "count" in body["message"]
    assert body["details"][0]["field"] == "count"
    assert crash.status_code == 500
    assert crash.json()["code"] == "internal_error"
    assert "hunter2" not in crash.text
    assert "/etc/alt" not in crash.text
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "payload_too_large"


async def test_metrics_refused_to_remote_peers_whatever_they_claim(settings: Settings) -> None:
    spec = SERVICES["news-creator"]
    app = create_app(spec, settings, ServiceParts(), tokens_of(settings, "news-creator"))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for spoof in ({"X-Forwarded-For": "127.0.0.1"}, {"X-Real-IP": "127.0.0.1"}, {}):
            response = await client.get("/metrics", headers=spoof)
            assert response.status_code == 404


async def test_metrics_token_admits_a_remote_scraper(settings: Settings) -> None:
    scraper = with_overrides(settings, ALT_METRICS_TOKEN="m" * 40)
    spec = SERVICES["news-creator"]
    app = create_app(spec, scraper, ServiceParts(), tokens_of(settings, "news-creator"))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "n" * 40})
        right = await client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
    assert wrong.status_code == 404
    assert right.status_code == 200


async def test_ready_names_what_is_missing(settings: Settings) -> None:
    urls = loopback_urls()
    dead_db = f"postgresql://postgres:postgres@127.0.0.1:{free_port()}/nothing"
    broken = with_overrides(settings, DATABASE_URL=dead_db, **urls)
    # Its auth-service is not running either.
    async with (
        running(broken, "alt-backend"),
        httpx.AsyncClient(base_url=broken.service_url("alt-backend")) as client,
    ):
        ready = await client.get("/v1/ready", timeout=10)
        live = await client.get("/v1/live")
    assert live.status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert body["code"] == "not_ready"
    assert body["details"]["database"] != "ok"
    assert body["details"]["auth-service"] != "ok"
    assert "database" in body["message"]
    assert "auth-service" in body["message"]


def test_access_log_lines_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    from alt.platform.logging import configure_logging, get_logger

    configure_logging("news-creator", "INFO")
    with structlog.contextvars.bound_contextvars(request_id="log-test-1234"):
        get_logger("t").info("something", count=3)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "something"
    assert record["request_id"] == "log-test-1234"
    assert record["service"] == "news-creator"
    assert record["count"] == 3
