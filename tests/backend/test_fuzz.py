"""A schema-driven fuzzer (schemathesis) against alt-backend's own OpenAPI document.

Every operation of `/v1/openapi.json`, every method, gets generated requests carrying a real
service token (as alt-frontend) and a real user token (CSRF-checked, so state-changing routes
run), against the real services and a real database holding the user's feed, articles, a
category, a read and a starred article. Each answer must not be a 5xx and must conform to the
document: status code declared, content type, headers and body schema.

The services run in the test's event loop; schemathesis calls them synchronously, so the
generation runs in a worker thread. Examples per operation: ALT_FUZZ_EXAMPLES (default 50), so
that the whole run takes a couple of minutes in CI.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from alt.platform.identity import USER_TOKEN_HEADER
from alt.platform.service_tokens import HEADER as SERVICE_TOKEN_HEADER
from tests.auth.conftest import Browser
from tests.backend.conftest import BackendStack

EXAMPLES = int(os.environ.get("ALT_FUZZ_EXAMPLES", "50"))
RESPONSE_CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Valid and invalid requests alike may only get the answers their operation declares.
CHECKS = {
    GenerationMode.POSITIVE: [*RESPONSE_CHECKS, status_code_conformance],
    GenerationMode.NEGATIVE: [*RESPONSE_CHECKS, status_code_conformance],
}
# A user token lives 5 minutes; a fresh one is minted well before that.
TOKEN_REFRESH_S = 120.0
STREAM = "GET /v1/sse/feeds/stats"


@dataclass
class Tokens:
    """The user's token, minted in the services' event loop and shared with the fuzzer's
    thread."""

    stack: BackendStack
    browser: Browser
    loop: asyncio.AbstractEventLoop
    token: str = ""
    minted: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def headers(self) -> dict[str, str]:
        with self.lock:
            if time.monotonic() - self.minted > TOKEN_REFRESH_S:
                coro = self.stack.user_token(self.browser, unsafe=True)
                self.token = asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)
                self.minted = time.monotonic()
            return {
                USER_TOKEN_HEADER: self.token,
                SERVICE_TOKEN_HEADER: self.stack.service_token("alt-frontend", "alt-backend"),
            }


@pytest.fixture(scope="module")
def fetch_env(fetch_env: None) -> Iterator[None]:
    """The conftest's egress policy, and token buckets too large to empty: the fuzzer's
    requests are many and quick, and a 429 would hide what the route itself answers (the
    buckets have tests of their own)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("IP_PER_S", "IP_BURST", "USER_PER_S", "USER_BURST"):
            patch.setenv(f"ALT_RATE_{name}", "1000000")
        yield


def seed(stack: BackendStack, user_id: uuid.UUID) -> None:
    """A feed the user subscribes to (in a category) with articles, one read and one starred,
    so that fuzzed ids 1, 2, … hit real objects as well as missing ones."""
    (feed,) = stack.app(
        "INSERT INTO feeds (url, title, last_checked_at, last_success_at, next_check_at)"
        " VALUES (%s, 'Fuzz feed', now(), now(), now() + interval '30 days') RETURNING id",
        (stack.feeds.url("/feeds/fuzz.xml"),),
    )
    (category,) = stack.app(
        "INSERT INTO categories (user_id, name) VALUES (%s, 'Fuzz') RETURNING id", (user_id,)
    )
    stack.app(
        "INSERT INTO subscriptions (user_id, feed_id, category_id) VALUES (%s, %s, %s)",
        (user_id, feed["id"], category["id"]),
    )
    newest = datetime.now(UTC) - timedelta(hours=1)
    articles = stack.app(
        "INSERT INTO articles (feed_id, entry_hash, title, url, author, published_at,"
        " content_html)"
        " SELECT %(feed)s, sha256(convert_to('fuzz/' || g, 'UTF8')), 'Fuzz #' || g,"
        "        'https://example.org/fuzz/' || g, 'Ann', %(newest)s - g * interval '1 minute',"
        "        '<p>Text of fuzz #' || g || '</p>'"
        "   FROM generate_series(1, 30) g ORDER BY g RETURNING id",
        {"feed": feed["id"], "newest": newest},
    )
    first, second = articles[0]["id"], articles[1]["id"]
    stack.app(
        "INSERT INTO read_states (user_id, article_id, feed_id) VALUES (%s, %s, %s)",
        (user_id, first, feed["id"]),
    )
    stack.app("INSERT INTO favorites (user_id, article_id) VALUES (%s, %s)", (user_id, second))


def fuzz_operation(
    operation: Any,
    base_url: str,
    headers: Callable[[], dict[str, str]],
    statuses: defaultdict[str, set[int]],
    mode: GenerationMode,
) -> list[str]:
    """Run the examples of one operation; the failures, described."""
    failures: list[str] = []
    seen: set[str] = set()
    label = operation.label

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        if label == STREAM:
            # An event stream never ends: look at its start, then hang up.
            with requests.get(
                base_url + case.formatted_path,
                headers={**(case.headers or {}), **headers()},
                params=case.query,
                stream=True,
                timeout=10,
            ) as stream:
                statuses[label].add(stream.status_code)
                assert stream.status_code < 500, stream.text
                if stream.status_code == 200:
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    assert next(stream.iter_lines()).startswith(b"retry:")
            return
        response = case.call(base_url=base_url, headers=headers(), timeout=30)
        statuses[label].add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS[mode])
        except FailureGroup as group:
            kinds = sorted({type(failure).__name__ for failure in group.exceptions})
            key = f"{label} ({mode.value}) {response.status_code} {kinds}"
            if key not in seen:
                seen.add(key)
                request = response.request
                failures.append(
                    f"{key}: {request.method} {request.url} body={request.body!r:.300}\n"
                    f"  -> {response.text[:300]}"
                )

    try:
        run()
    except Unsatisfiable:
        # Nothing to get wrong (an operation without parameters or body): no invalid request.
        assert mode is GenerationMode.NEGATIVE, label
    return failures


def fuzz_all(schema: Any, base_url: str, headers: Callable[[], dict[str, str]]) -> list[str]:
    failures: list[str] = []
    statuses: defaultdict[str, set[int]] = defaultdict(set)
    for result in schema.get_all_operations():
        for mode in GenerationMode:
            failures += fuzz_operation(result.ok(), base_url, headers, statuses, mode)
    assert len(statuses) > 20, statuses  # every route of the document was called
    # The examples reached the routes themselves, not only the validation in front of them.
    succeeded = sorted(label for label, seen in statuses.items() if any(s < 300 for s in seen))
    assert len(succeeded) > len(statuses) // 2, dict(statuses)
    return failures


async def test_fuzz_every_operation(stack: BackendStack) -> None:
    browser, user_id = await stack.user(f"fuzz-{uuid.uuid4().hex[:8]}@example.org")
    seed(stack, user_id)
    async with stack.as_service("alt-frontend", "alt-backend") as client:
        document = (await client.get("/v1/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    tokens = Tokens(stack, browser, asyncio.get_running_loop())
    base_url = stack.settings.service_url("alt-backend")
    failures = await asyncio.to_thread(fuzz_all, schema, base_url, tokens.headers)
    assert not failures, "\n\n".join(failures[:20])


async def test_unauthenticated_calls_are_refused(stack: BackendStack) -> None:
    """Without the service token, nothing but the health endpoints answers."""
    base_url = stack.settings.service_url("alt-backend")
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        answer = await client.get("/v1/articles")
    assert answer.status_code == 401
    assert answer.json()["code"] == "service_token_required"


pytestmark = pytest.mark.timeout(600)
