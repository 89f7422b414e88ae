"""Background loops, in a service served for real on loopback: a loop that dies takes the
service's readiness down, naming the loop, and is started again; the service is ready again once
it runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from alt.config import Settings
from alt.platform.background import in_background
from alt.platform.http_app import ServiceContext, ServiceParts, create_app
from alt.services import SERVICES
from tests.helpers import free_port, serving
from tests.support.waiting import until
from tests.test_services import tokens_of

DEADLINE_S = 30.0


class Flaky:
    """A loop that runs until told to stop, then ends the way it is told to."""

    def __init__(self) -> None:
        self.starts = 0
        self.stop = asyncio.Event()
        self.by_returning = False

    async def run(self) -> None:
        self.starts += 1
        await self.stop.wait()
        self.stop.clear()
        if not self.by_returning:
            raise RuntimeError("a bug in the loop")


async def _until(
    client: httpx.AsyncClient, condition: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """Ask /v1/ready until `condition` holds; fail after the deadline."""

    async def answer() -> httpx.Response | None:
        response = await client.get("/v1/ready")
        return response if condition(response) else None

    found = await until(answer, DEADLINE_S, "/v1/ready answering as expected")
    assert found is not None
    return found


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Flaky]]:
    flaky = Flaky()

    @contextlib.asynccontextmanager
    async def lifecycle(ctx: ServiceContext) -> AsyncIterator[None]:
        async with in_background("flaky", flaky.run):
            yield

    spec = SERVICES["auth-token-manager"]  # no database, calls nobody: only the loop counts
    app = create_app(
        spec,
        settings,
        ServiceParts(lifecycles=[lifecycle]),
        tokens_of(settings, spec.name),
    )
    port = free_port()
    async with (
        serving({port: app}),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        yield client, flaky


@pytest.mark.parametrize("by_returning", [False, True])
async def test_a_loop_that_dies_is_named_by_readiness_and_restarted(
    served: tuple[httpx.AsyncClient, Flaky], by_returning: bool
) -> None:
    client, flaky = served
    ready: Callable[[httpx.Response], bool] = lambda answer: answer.status_code == 200  # noqa: E731
    first = await _until(client, ready)
    assert first.json()["checks"] == {"flaky": "ok"}
    assert flaky.starts == 1

    flaky.by_returning = by_returning
    flaky.stop.set()
    down = await _until(client, lambda answer: answer.status_code == 503)
    body = down.json()
    assert body["code"] == "not_ready"
    assert "flaky" in body["message"]
    why = "it returned" if by_returning else "RuntimeError"
    assert body["details"]["flaky"].startswith(f"stopped ({why}); restarting in")
    assert (await client.get("/v1/live")).status_code == 200

    await _until(client, ready)
    assert flaky.starts == 2


async def test_a_loop_started_outside_a_service_is_restarted_too() -> None:
    starts = 0
    running = asyncio.Event()

    async def dies_once() -> None:
        nonlocal starts
        starts += 1
        if starts == 1:
            raise RuntimeError("dies at once")
        running.set()
        await asyncio.Event().wait()  # then runs until cancelled

    async with in_background("tool", dies_once):
        await asyncio.wait_for(running.wait(), DEADLINE_S)
    assert starts == 2
