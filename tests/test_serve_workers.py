"""`alt serve` with ALT_WORKERS runs that many processes of the service on one port, and its
`/metrics` counts what all of them served."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from alt.platform.metrics import MULTIPROCESS_DIR_ENV, exposition
from alt.platform.service_tokens import generate_key_file
from alt.services import Database
from tests.support.ports import free_port
from tests.support.waiting import wait_until

COUNTED = re.compile(
    r'^alt_http_requests_total\{[^}]*route="/v1/health"[^}]*status="200"[^}]*\} (\S+)$', re.M
)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def _two_workers(
    database_urls: dict[Database, str], tmp_path: Path
) -> Iterator[tuple[int, subprocess.Popen[bytes], list[psutil.Process]]]:
    """`alt serve alt-backend` with two workers: its port, the parent, and the workers."""
    keys = tmp_path / "keys.json"
    generate_key_file(keys)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_urls[Database.APP],
        "AUTH_DATABASE_URL": database_urls[Database.AUTH],
        "ALT_SERVICE_KEYS_FILE": str(keys),
        "ALT_BACKEND_URL": base,
        "ALT_WORKERS": "2",
        "ALT_SHUTDOWN_GRACE": "3",
    }
    parent = subprocess.Popen(
        [sys.executable, "-m", "alt.cli", "serve", "alt-backend"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: _answers(base + "/v1/live") or parent.poll() is not None, 60, "readiness"
        )
        assert parent.poll() is None, "alt serve exited"
        # uvicorn's workers are spawned processes of the parent, which only supervises.
        workers = [
            child
            for child in psutil.Process(parent.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        yield port, parent, workers
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) in (0, -signal.SIGTERM)


def test_two_workers_serve_one_port_share_a_metrics_directory_and_stop_together(
    database_urls: dict[Database, str], tmp_path: Path
) -> None:
    with _two_workers(database_urls, tmp_path) as (port, _, workers):
        assert len(workers) == 2
        (metrics_dir,) = {Path(worker.environ()[MULTIPROCESS_DIR_ENV]) for worker in workers}
        assert metrics_dir.is_dir()
    assert not _answers(f"http://127.0.0.1:{port}/v1/live")
    assert not metrics_dir.exists()


def _ask(port: int, path: str, workers: list[psutil.Process]) -> tuple[int, str]:
    """GET `path` on a connection of its own; the pid of the worker that answered, and the
    body. The worker is the one holding the other end of the (kept-alive) connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == 200, body
        assert conn.sock is not None
        client = conn.sock.getsockname()
        for worker in workers:
            for held in worker.net_connections("tcp"):
                if held.raddr and (held.raddr.ip, held.raddr.port) == client:
                    return worker.pid, body
        pytest.fail(f"no worker holds the connection from {client}")
    finally:
        conn.close()


def _counted(exposition: str) -> float:
    return sum(float(value) for value in COUNTED.findall(exposition))


def test_metrics_count_the_requests_of_every_worker(
    database_urls: dict[Database, str], tmp_path: Path
) -> None:
    with _two_workers(database_urls, tmp_path) as (port, _, workers):
        served: dict[int, int] = {}

        def both_have_served() -> bool:
            pid, _ = _ask(port, "/v1/health", workers)
            served[pid] = served.get(pid, 0) + 1
            return len(served) == 2

        wait_until(both_have_served, 60, "both workers to answer")
        total = sum(served.values())
        # A worker counts a request just after sending its answer: wait for the last count.
        wait_until(
            lambda: _counted(_ask(port, "/metrics", workers)[1]) == total,
            15,
            f"/metrics to count {total} requests",
        )
        scrapers: set[int] = set()

        def both_have_scraped() -> bool:
            pid, exposition = _ask(port, "/metrics", workers)
            assert _counted(exposition) == total, (pid, served)
            scrapers.add(pid)
            return len(scrapers) == 2

        wait_until(both_have_scraped, 60, "both workers to answer /metrics")


WORKER = """
import sys
from alt.platform.metrics import HTTP_IN_FLIGHT, HTTP_REQUESTS
HTTP_REQUESTS.labels("svc", "GET", "/x", "200").inc()
HTTP_IN_FLIGHT.labels("svc").inc()  # a request in flight when the process ends
print("counted", flush=True)
sys.stdin.read()  # until the test closes stdin
"""


def _sample(exposition: str, name: str) -> float:
    values = re.findall(rf'^{name}\{{[^}}]*service="svc"[^}}]*\}} (\S+)$', exposition, re.M)
    return sum(float(value) for value in values)


def test_a_worker_that_exited_stops_counting_in_flight_but_its_requests_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, MULTIPROCESS_DIR_ENV: str(tmp_path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "counted"
        processes[0].communicate(timeout=30)  # the other one lives on
        monkeypatch.setenv(MULTIPROCESS_DIR_ENV, str(tmp_path))
        text = exposition().decode()
        assert _sample(text, "alt_http_requests_in_flight") == 1
        assert _sample(text, "alt_http_requests_total") == 2
    finally:
        for process in processes:
            process.kill()
            process.wait()
