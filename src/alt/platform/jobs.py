"""The job queue: procrastinate on PostgreSQL, one named queue per service.

Delivery is at least once. Workers send heartbeats; when a worker dies (even by SIGKILL) its
`doing` jobs are found by the missing heartbeat and run again, so every task must make its effect
idempotent (an upsert keyed by what it produces, or a write in the same transaction as its
bookkeeping). New jobs wake workers through LISTEN/NOTIFY; polling is only the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping

import procrastinate
from procrastinate import RetryStrategy
from procrastinate.exceptions import ConnectorException
from psycopg import AsyncConnection, sql

from alt.config import Settings
from alt.platform.db import database_url
from alt.platform.logging import get_logger
from alt.services import Database

log = get_logger(__name__)

# Retries for tasks that reach out to other systems: 1 s, 2 s, 4 s, … capped at 10 min.
DEFAULT_RETRY = RetryStrategy(max_attempts=8, exponential_wait=2, retry_exceptions=None)


def make_job_app(settings: Settings, role: str,
                 blueprints: Mapping[str, procrastinate.Blueprint]) -> procrastinate.App:
    """A procrastinate app whose connections act as `role` (a member of alt_jobs), with the
    tasks of each blueprint named `<namespace>:<task>`."""

    async def as_role(conn: AsyncConnection) -> None:
        await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        await conn.commit()

    connector = procrastinate.PsycopgConnector(
        conninfo=database_url(settings, Database.APP),
        configure=as_role,
        min_size=1,
        max_size=max(2, settings.db_pool_max // 2),
    )
    app = procrastinate.App(connector=connector)
    for namespace, blueprint in blueprints.items():
        app.add_tasks_from(blueprint, namespace=namespace)
    return app


async def recover_stalled_jobs(app: procrastinate.App, queues: Iterable[str],
                               stalled_after_s: float) -> int:
    """Put back to `todo` the running jobs of workers whose heartbeat stopped."""
    recovered = 0
    for queue in queues:
        jobs = await app.job_manager.get_stalled_jobs(
            queue=queue, seconds_since_heartbeat=stalled_after_s)
        for job in jobs:
            try:
                await app.job_manager.retry_job(job)
            except ConnectorException:
                continue  # another worker recovered it first
            recovered += 1
            log.warning("job_recovered", job_id=job.id, task=job.task_name, queue=queue)
    return recovered


async def run_worker(app: procrastinate.App, settings: Settings, queues: list[str],
                     name: str, concurrency: int = 4) -> None:
    """Run a worker on `queues` until cancelled, recovering stalled jobs as it goes.

    Cancelling it is the graceful shutdown: running jobs get `shutdown_grace_s` to finish,
    then they are aborted and, being unfinished, will run again.
    """
    recovery = asyncio.create_task(_recover_forever(app, settings, queues))
    try:
        await app.run_worker_async(
            queues=queues,
            name=name,
            concurrency=concurrency,
            install_signal_handlers=False,
            update_heartbeat_interval=settings.job_heartbeat_s,
            stalled_worker_timeout=settings.job_stalled_after_s,
            shutdown_graceful_timeout=settings.shutdown_grace_s,
            fetch_job_polling_interval=5.0,
        )
    finally:
        recovery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recovery


async def _recover_forever(app: procrastinate.App, settings: Settings,
                           queues: list[str]) -> None:
    while True:
        try:
            await recover_stalled_jobs(app, queues, settings.job_stalled_after_s)
        except Exception:
            log.exception("job_recovery_failed")
        await asyncio.sleep(settings.job_heartbeat_s)


FINISHED_JOBS_KEPT_H = 72


def housekeeping(queue: str) -> procrastinate.Blueprint:
    """Tasks every worker service runs on its own queue: dropping old finished jobs."""
    blueprint = procrastinate.Blueprint()

    @blueprint.periodic(cron="17 * * * *")
    @blueprint.task(queue=queue, pass_context=True, queueing_lock=f"{queue}:prune")
    async def prune_finished_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
        await context.app.job_manager.delete_old_jobs(
            nb_hours=FINISHED_JOBS_KEPT_H, queue=queue, include_failed=False)

    return blueprint
