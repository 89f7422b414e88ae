"""The job queue: procrastinate on PostgreSQL, one named queue per service.

Delivery is at least once. Workers send heartbeats; when a worker dies (even by SIGKILL) its
`doing` jobs are found by the missing heartbeat and run again, so every task must make its effect
idempotent (an upsert keyed by what it produces, or a write in the same transaction as its
bookkeeping). A job still running when its worker stops (after the shutdown grace) goes back to
the queue too. New jobs wake workers through LISTEN/NOTIFY; polling is only the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Job
from procrastinate.manager import get_channel_for_queues
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker
from psycopg import AsyncConnection, sql

from alt.config import Settings
from alt.platform.db import database_url
from alt.platform.logging import get_logger
from alt.services import Database

log = get_logger(__name__)

UPKEEP_STOP_S = 5.0
POLLING_INTERVAL_S = 5.0
"""How often an idle worker looks for due jobs that no notification announced (retries whose
wait is over, jobs put back after a crash)."""


@dataclass(frozen=True)
class Backoff(BaseRetryStrategy):
    """Retry after `first_s`, then twice as long each time, capped at `cap_s`; each wait is
    stretched by up to `jitter` (a fraction) so jobs that failed together do not all come back
    together. A job runs at most `max_runs` times in all."""

    max_runs: int = 8
    first_s: float = 1.0
    cap_s: float = 600.0
    jitter: float = 0.25

    def wait_s(self, previous_runs: int) -> float:
        """The wait before run `previous_runs + 1`, jitter aside."""
        return float(min(self.cap_s, self.first_s * 2**previous_runs))

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if job.attempts + 1 >= self.max_runs:
            return None
        stretch = 1 + self.jitter * random.random()  # noqa: S311 - spreading load, not a secret
        wait = dt.timedelta(seconds=self.wait_s(job.attempts) * stretch)
        return RetryDecision(retry_at=dt.datetime.now(dt.UTC) + wait)


# For tasks that reach out to other systems: 1 s, 2 s, 4 s, … 64 s (8 runs in about 2 min).
DEFAULT_RETRY = Backoff()


class WorkerStopped(Exception):
    """The job's worker stopped (shutdown grace over) before the job finished; it runs again."""


@dataclass(frozen=True)
class _RunAgainIfStopped(BaseRetryStrategy):
    """Puts a job its stopping worker interrupted back in the queue at once, whatever the task's
    own strategy says (a task without retries must not lose a job to a restart); any other
    failure is the task's own strategy's business."""

    inner: BaseRetryStrategy | None

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, WorkerStopped):
            return RetryDecision(retry_at=dt.datetime.now(dt.UTC))
        if self.inner is None:
            return None
        retry = self.inner.get_retry_exception(exception=exception, job=job)
        return retry.retry_decision if retry is not None else None


def make_job_app(
    settings: Settings, role: str, blueprints: Mapping[str, procrastinate.Blueprint]
) -> procrastinate.App:
    """A procrastinate app whose connections act as `role` (a member of alt_jobs), with the
    tasks of each blueprint named `<namespace>:<task>`. A blueprint belongs to one app."""

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
    for task in app.tasks.values():
        if not isinstance(task.retry_strategy, _RunAgainIfStopped):
            task.retry_strategy = _RunAgainIfStopped(task.retry_strategy)
    return app


# Puts a stalled job back to `todo` only if it is still `doing` for the worker found stalled: the
# row lock (re-checked against the latest row version) keeps a worker from requeueing a job that
# another worker recovered and a third one already took. procrastinate_retry_job_v2 is the
# pinned procrastinate's own function, the one its `retry_job` calls.
_REQUEUE_STALLED = """
WITH stalled AS (
    SELECT id FROM procrastinate_jobs
     WHERE id = %(job_id)s
       AND status = 'doing'
       AND worker_id IS NOT DISTINCT FROM %(worker_id)s::bigint
       FOR UPDATE
)
SELECT id, procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL) FROM stalled
"""


async def recover_stalled_jobs(
    app: procrastinate.App, queues: Iterable[str], stalled_after_s: float
) -> int:
    """Put back to `todo` the running jobs of workers whose heartbeat stopped, and wake the
    workers of their queues."""
    recovered = 0
    for queue in queues:
        jobs = await app.job_manager.get_stalled_jobs(
            queue=queue, seconds_since_heartbeat=stalled_after_s
        )
        requeued = 0
        for job in jobs:
            rows = await app.connector.execute_query_all_async(
                _REQUEUE_STALLED, job_id=job.id, worker_id=job.worker_id
            )
            if not rows:
                continue  # another worker recovered it first
            requeued += 1
            log.warning(
                "job_recovered",
                job_id=job.id,
                task=job.task_name,
                queue=queue,
                attempts=job.attempts + 1,
            )
        if requeued:
            await wake_workers(app, queue)
        recovered += requeued
    return recovered


async def wake_workers(app: procrastinate.App, queue: str) -> None:
    """Tell the idle workers of `queue` to look for jobs now (procrastinate's own notification,
    which only job inserts send by themselves)."""
    payload = json.dumps({"type": "job_inserted", "job_id": None})
    for channel in get_channel_for_queues([queue]):
        await app.connector.execute_query_async(
            "SELECT pg_notify(%(channel)s, %(payload)s)", channel=channel, payload=payload
        )


async def run_worker(
    app: procrastinate.App,
    settings: Settings,
    queues: list[str],
    name: str,
    concurrency: int = 4,
    polling_interval_s: float = POLLING_INTERVAL_S,
) -> None:
    """Run a worker on `queues` until cancelled, recovering stalled jobs as it goes.

    Cancelling it is the graceful shutdown: running jobs get `shutdown_grace_s` to finish,
    then they are aborted and put back in the queue, to run again on another worker.
    """
    interrupted: list[int] = []

    async def requeue_if_stopped(
        call_next: AsyncCallNext, context: procrastinate.JobContext, worker: Worker
    ) -> Any:
        try:
            return await call_next()
        except (asyncio.CancelledError, JobAborted):
            if context.abort_reason() is not AbortReason.SHUTDOWN:
                raise
            assert context.job.id is not None
            interrupted.append(context.job.id)
            log.warning(
                "job_interrupted_by_shutdown",
                job_id=context.job.id,
                task=context.job.task_name,
                grace_s=settings.shutdown_grace_s,
            )
            raise WorkerStopped(f"worker {name} stopped before the job finished") from None

    worker = Worker(
        app=app,
        queues=queues,
        name=name,
        concurrency=concurrency,
        install_signal_handlers=False,
        update_heartbeat_interval=settings.job_heartbeat_s,
        stalled_worker_timeout=settings.job_stalled_after_s,
        shutdown_graceful_timeout=settings.shutdown_grace_s,
        fetch_job_polling_interval=polling_interval_s,
        worker_middleware=[requeue_if_stopped],
    )
    stopping = asyncio.Event()
    upkeep = asyncio.create_task(_upkeep(app, settings, queues, worker, stopping))
    try:
        await worker.run()  # type: ignore[no-untyped-call]  # procrastinate leaves it bare
    finally:
        # An event, not only cancel(): a cancellation that lands inside a library's database
        # call can be swallowed there, and shutdown must not hang on it.
        stopping.set()
        upkeep.cancel()
        await asyncio.wait({upkeep}, timeout=UPKEEP_STOP_S)
        if interrupted:
            # The jobs are back in `todo`; another worker need not wait for its next poll.
            for queue in queues:
                with contextlib.suppress(Exception):
                    await wake_workers(app, queue)


WORKER_RESTART_MAX_S = 30.0


async def supervise_worker(
    app: procrastinate.App, settings: Settings, queues: list[str], name: str
) -> None:
    """Run a worker until cancelled, starting it again (after 1 s, 2 s, … 30 s) whenever it
    stops on its own, as it does when the database goes away."""
    delay = 1.0
    while True:
        started = time.monotonic()
        try:
            await run_worker(app, settings, queues, name)
        except Exception:
            log.exception("job_worker_failed", queues=queues)
        this = asyncio.current_task()
        if this is not None and this.cancelling():
            raise asyncio.CancelledError  # the worker took our cancellation as its stop signal
        if time.monotonic() - started > 10 * WORKER_RESTART_MAX_S:
            delay = 1.0  # it ran well for a while: this is a new failure, not the same one
        log.warning("job_worker_restarting", queues=queues, in_s=delay)
        await asyncio.sleep(delay)
        delay = min(2 * delay, WORKER_RESTART_MAX_S)


async def _upkeep(
    app: procrastinate.App,
    settings: Settings,
    queues: list[str],
    worker: Worker,
    stopping: asyncio.Event,
) -> None:
    """Recover stalled jobs, and keep the worker's heartbeat going until the worker has
    unregistered: procrastinate stops its own heartbeat as soon as shutdown begins, and the
    jobs still finishing during the shutdown grace must not look stalled to other workers."""
    while not stopping.is_set():
        try:
            if worker.worker_id is not None:
                await app.job_manager.update_heartbeat(worker.worker_id)
            await recover_stalled_jobs(app, queues, settings.job_stalled_after_s)
        except Exception:
            log.exception("job_upkeep_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), settings.job_heartbeat_s)


FINISHED_JOBS_KEPT_H = 72
HOUSEKEEPING_CRON = "17 * * * *"


def housekeeping(queue: str) -> procrastinate.Blueprint:
    """Tasks every worker service runs on its own queue: dropping old finished jobs."""
    blueprint = procrastinate.Blueprint()

    @blueprint.periodic(cron=HOUSEKEEPING_CRON)
    # Named, not left to the module path: queued jobs must still find it after a refactoring.
    @blueprint.task(
        name="prune_finished_jobs", queue=queue, pass_context=True, queueing_lock=f"{queue}:prune"
    )
    async def prune_finished_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
        await context.app.job_manager.delete_old_jobs(
            nb_hours=FINISHED_JOBS_KEPT_H, queue=queue, include_failed=False
        )

    return blueprint
