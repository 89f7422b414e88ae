"""A job worker the job-queue tests run as a subprocess, so they can kill it for real.

It is built exactly as a service builds its worker (`make_job_app` acting as a service role,
`run_worker`, the housekeeping blueprint of each queue), plus the test tasks below under the
namespace `tests`. SIGTERM and SIGINT stop it the way a service's lifespan does: by cancelling
`run_worker`. Settings come from the environment (DATABASE_URL, ALT_JOB_HEARTBEAT,
ALT_JOB_STALLED_AFTER, ALT_SHUTDOWN_GRACE); JOBS_TEST_SIGNAL_DIR is where tasks drop a file named
after their key once they reach the point a test waits for, where the worker drops `NAME.idle`
whenever it looked at its queues and found nothing to do. SIGUSR1 lets held jobs go on.

    python tests/jobs_worker.py --queue Q [--queue Q2] --name NAME --role ROLE
                                [--concurrency N] [--polling SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import cast

import procrastinate
from procrastinate.jobs import Job
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alt.config import load_settings
from alt.platform.jobs import DEFAULT_RETRY, housekeeping, make_job_app, run_worker
from alt.platform.logging import configure_logging, get_logger

NAMESPACE = "tests"
RELEASED = asyncio.Event()  # set by SIGUSR1

log = get_logger("jobs_worker")


def _signal(key: str, stage: str) -> None:
    """Tell the test that `key` reached `stage` (the file appears atomically)."""
    folder = Path(os.environ["JOBS_TEST_SIGNAL_DIR"])
    tmp = folder / f".{key}.{stage}.tmp"
    tmp.write_text(str(os.getpid()))
    tmp.rename(folder / f"{key}.{stage}")


async def _hang() -> None:
    """Until the worker is killed or the job cancelled."""
    await asyncio.Event().wait()


def _pool(context: procrastinate.JobContext) -> AsyncConnectionPool[AsyncConnection]:
    """The worker's own pool: its connections act as the worker's service role."""
    connector = cast(procrastinate.PsycopgConnector, context.app.connector)
    return connector.pool


async def _record_run(context: procrastinate.JobContext, key: str) -> int:
    """Note that this run began, committed at once so that it survives a kill."""
    async with _pool(context).connection() as conn:
        cur = await conn.execute(
            "INSERT INTO jobs_test_runs (job_id, key, attempt, pid) VALUES (%s, %s, %s, %s)"
            " RETURNING id",
            (context.job.id, key, context.job.attempts, os.getpid()),
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def _finish_run(context: procrastinate.JobContext, run_id: int) -> None:
    async with _pool(context).connection() as conn:
        await conn.execute(
            "UPDATE jobs_test_runs SET finished_at = clock_timestamp() WHERE id = %s", (run_id,)
        )


_WRITE_EFFECT = (
    "INSERT INTO jobs_test_effects (key, job_id, attempt) VALUES (%s, %s, %s)"
    " ON CONFLICT (key) DO NOTHING"
)


def task_blueprint() -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name="effect", pass_context=True)
    async def effect(context: procrastinate.JobContext, key: str, hang: str = "") -> None:
        """The idempotent effect of a job keyed by `key`: one row, written with ON CONFLICT DO
        NOTHING. On its first run it can hang (until killed) after committing its effect
        (hang="after_commit") or inside the open transaction that writes it
        (hang="in_transaction")."""
        run_id = await _record_run(context, key)
        first_run = context.job.attempts == 0
        async with _pool(context).connection() as conn:
            await conn.execute(_WRITE_EFFECT, (key, context.job.id, context.job.attempts))
            if first_run and hang == "after_commit":
                await conn.commit()
                _signal(key, "hanging")
                await _hang()
            if first_run and hang == "in_transaction":
                _signal(key, "hanging")
                await _hang()
        await _finish_run(context, run_id)

    @blueprint.task(name="flaky", pass_context=True, retry=DEFAULT_RETRY)
    async def flaky(context: procrastinate.JobContext, key: str, failures: int) -> None:
        """Fails on its first `failures` runs, then writes its effect."""
        run_id = await _record_run(context, key)
        if context.job.attempts < failures:
            raise RuntimeError(f"{key}: failure {context.job.attempts + 1} of {failures}")
        async with _pool(context).connection() as conn:
            await conn.execute(_WRITE_EFFECT, (key, context.job.id, context.job.attempts))
        await _finish_run(context, run_id)

    @blueprint.task(name="held", pass_context=True)
    async def held(context: procrastinate.JobContext, key: str) -> None:
        """Runs until the test releases it (SIGUSR1) on its first run, at once on later ones."""
        run_id = await _record_run(context, key)
        _signal(key, "started")
        if context.job.attempts == 0:
            await RELEASED.wait()
        async with _pool(context).connection() as conn:
            await conn.execute(_WRITE_EFFECT, (key, context.job.id, context.job.attempts))
        await _finish_run(context, run_id)

    return blueprint


def _report_idle(app: procrastinate.App, name: str) -> None:
    """Drop `NAME.idle` each time the worker looks at its queues and finds no job: from then on
    only a NOTIFY wakes it before its next poll."""
    fetch_job = app.job_manager.fetch_job

    async def fetch_and_report(queues: list[str] | None, worker_id: int) -> Job | None:
        job = await fetch_job(queues=queues, worker_id=worker_id)
        if job is None:
            _signal(name, "idle")
        return job

    app.job_manager.fetch_job = fetch_and_report


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue", action="append", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--polling", type=float, default=5.0)
    args = parser.parse_args()

    settings = load_settings()
    configure_logging(args.name, settings.log_level)
    blueprints = {f"{queue}.housekeeping": housekeeping(queue) for queue in args.queue}
    blueprints[NAMESPACE] = task_blueprint()
    app = make_job_app(settings, args.role, blueprints)
    _report_idle(app, args.name)

    loop = asyncio.get_running_loop()
    async with app.open_async():
        worker = asyncio.create_task(
            run_worker(
                app,
                settings,
                args.queue,
                name=args.name,
                concurrency=args.concurrency,
                polling_interval_s=args.polling,
            )
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.cancel)
        loop.add_signal_handler(signal.SIGUSR1, RELEASED.set)
        log.info("test_worker_started", pid=os.getpid(), queues=args.queue)
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    log.info("test_worker_stopped", pid=os.getpid())


if __name__ == "__main__":
    asyncio.run(main())
