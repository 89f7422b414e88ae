"""The job queue for real: PostgreSQL, worker subprocesses (tests/jobs_worker.py, built as a service
builds its worker and acting as the pre-processor's role), SIGKILL and SIGTERM.

Each test works on queues of its own in a database of this module's own, so no test sees
another's jobs. Heartbeats are 0.2 s and a worker is stalled after 1 s, so a killed worker's jobs
come back within about a second.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import procrastinate
import psycopg
import pytest
from procrastinate.jobs import Job
from procrastinate.periodic import PeriodicDeferrer
from psycopg.rows import dict_row

from alt.config import Settings, load_settings
from alt.platform.jobs import (
    DEFAULT_RETRY,
    HOUSEKEEPING_CRON,
    housekeeping,
    make_job_app,
    recover_stalled_jobs,
)
from alt.platform.migrate import migrate
from alt.services import SERVICES, Database

ROLE = SERVICES["pre-processor"].db_role or ""
WORKER_SCRIPT = Path(__file__).with_name("jobs_worker.py")
HEARTBEAT_S = 0.2
STALLED_AFTER_S = 1.0
# What procrastinate's worker logs when a stop waits for running jobs, and when the grace is over.
WAITING_FOR_JOBS = "Waiting for job to finish"
GRACE_OVER = "jobs still running after graceful timeout"

T = TypeVar("T")
Admin = psycopg.AsyncConnection[dict[str, Any]]

TEST_TABLES = f"""
CREATE TABLE jobs_test_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint NOT NULL,
    key         text NOT NULL,
    attempt     integer NOT NULL,
    pid         integer NOT NULL,
    db_user     text NOT NULL DEFAULT current_user,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz
);
CREATE TABLE jobs_test_effects (
    key        text PRIMARY KEY,
    job_id     bigint NOT NULL,
    attempt    integer NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
GRANT SELECT, INSERT, UPDATE ON jobs_test_runs, jobs_test_effects TO {ROLE};
"""


def as_url(conninfo: str, **params: str) -> str:
    """A postgresql:// URL (what DATABASE_URL takes) for a conninfo string or URL."""
    parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = quote(str(parts.get("user", "postgres")), safe="")
    password = parts.get("password")
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    url = (
        f"postgresql://{auth}@{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}"
        f"/{parts['dbname']}"
    )
    if params:
        url += "?" + "&".join(f"{key}={quote(value)}" for key, value in params.items())
    return url


@pytest.fixture(scope="module")
def db_url(create_database: Callable[[], str]) -> str:
    url = as_url(create_database())
    migrate(url, Database.APP)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TEST_TABLES.encode())
    return url


@pytest.fixture(scope="module")
def job_settings(db_url: str) -> Settings:
    return load_settings(
        DATABASE_URL=db_url,
        ALT_JOB_HEARTBEAT=HEARTBEAT_S,
        ALT_JOB_STALLED_AFTER=STALLED_AFTER_S,
        ALT_SHUTDOWN_GRACE=1,
    )


@pytest.fixture
async def admin(db_url: str) -> AsyncIterator[Admin]:
    """The database owner, to look at (and age) jobs behind the workers' backs."""
    async with await psycopg.AsyncConnection.connect(
        db_url, autocommit=True, row_factory=dict_row
    ) as conn:
        yield conn


@pytest.fixture
async def client(job_settings: Settings) -> AsyncIterator[procrastinate.App]:
    """Defers jobs the way a service does: as its role, knowing tasks by name only."""
    app = make_job_app(job_settings, ROLE, {})
    async with app.open_async():
        yield app


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def exited(self, within_s: float) -> int:
        deadline = time.monotonic() + within_s
        while (code := self.proc.poll()) is None:
            if time.monotonic() > deadline:
                pytest.fail(f"worker {self.name} still running after {within_s} s\n{self.log()}")
            await asyncio.sleep(0.02)
        return code


@dataclass
class Workers:
    db_url: str
    folder: Path
    started: list[Worker] = field(default_factory=list)

    @property
    def signals(self) -> Path:
        path = self.folder / "signals"
        path.mkdir(exist_ok=True)
        return path

    def start(
        self,
        queues: list[str],
        name: str,
        *,
        concurrency: int = 4,
        polling_s: float = 30.0,
        grace_s: int = 1,
    ) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": as_url(self.db_url, application_name=name),
            "ALT_JOB_HEARTBEAT": str(HEARTBEAT_S),
            "ALT_JOB_STALLED_AFTER": str(STALLED_AFTER_S),
            "ALT_SHUTDOWN_GRACE": str(grace_s),
            "ALT_LOG_LEVEL": "INFO",
            "JOBS_TEST_SIGNAL_DIR": str(self.signals),
        }
        args = [
            sys.executable,
            str(WORKER_SCRIPT),
            "--name",
            name,
            "--role",
            ROLE,
            "--concurrency",
            str(concurrency),
            "--polling",
            str(polling_s),
        ]
        for queue in queues:
            args += ["--queue", queue]
        log_path = self.folder / f"{name}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        worker = Worker(name, proc, log_path)
        self.started.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"--- {w.name} (pid {w.pid}) ---\n{w.log()}" for w in self.started)

    async def signalled(self, key: str, stage: str, within_s: float = 15.0) -> int:
        """Wait until the job `key` reached `stage`; return the pid of the worker running it."""
        path = self.signals / f"{key}.{stage}"
        await eventually(
            lambda: asyncio.to_thread(path.exists), within_s, f"{key} to reach {stage}", self
        )
        return int(path.read_text())

    async def idle(self, worker: Worker, within_s: float = 15.0) -> None:
        """Wait until `worker` has looked at its queues and found nothing to do."""
        path = self.signals / f"{worker.name}.idle"
        await eventually(
            lambda: asyncio.to_thread(path.exists), within_s, f"{worker.name} to be idle", self
        )

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait()


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(db_url, tmp_path)
    yield started
    started.stop_all()


async def eventually(
    check: Callable[[], Awaitable[T]], within_s: float, what: str, workers: Workers
) -> T:
    deadline = time.monotonic() + within_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within_s} s waiting for {what}\n{workers.logs()}")
        await asyncio.sleep(0.05)


async def defer(client: procrastinate.App, task: str, queue: str, **kwargs: Any) -> int:
    return await client.configure_task(f"tests:{task}", queue=queue).defer_async(**kwargs)


async def job(admin: Admin, job_id: int) -> dict[str, Any]:
    cur = await admin.execute(
        "SELECT id, status::text, attempts, queue_name, worker_id, args"
        " FROM procrastinate_jobs WHERE id = %s",
        (job_id,),
    )
    row = await cur.fetchone()
    assert row is not None, f"job {job_id} is gone"
    return row


async def events(admin: Admin, job_id: int, *types: str) -> list[dict[str, Any]]:
    cur = await admin.execute(
        "SELECT type::text, at FROM procrastinate_events WHERE job_id = %s"
        " AND (cardinality(%s::text[]) = 0 OR type::text = ANY(%s::text[])) ORDER BY id",
        (job_id, list(types), list(types)),
    )
    return await cur.fetchall()


async def runs(admin: Admin, key: str) -> list[dict[str, Any]]:
    cur = await admin.execute("SELECT * FROM jobs_test_runs WHERE key = %s ORDER BY id", (key,))
    return await cur.fetchall()


async def effects(admin: Admin, key: str) -> list[dict[str, Any]]:
    cur = await admin.execute("SELECT * FROM jobs_test_effects WHERE key = %s", (key,))
    return await cur.fetchall()


async def all_in(admin: Admin, job_ids: list[int], status: str) -> bool:
    cur = await admin.execute(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE id = ANY(%s) AND status::text = %s",
        (job_ids, status),
    )
    row = await cur.fetchone()
    assert row is not None
    return bool(row["n"] == len(job_ids))


async def test_job_of_a_killed_worker_runs_again_and_its_effect_happens_once(
    admin: Admin, client: procrastinate.App, workers: Workers
) -> None:
    """SIGKILL a worker in the middle of two jobs, one past the commit of its effect and one
    inside the transaction writing it, with more jobs waiting behind them. A fresh worker runs
    both again (found by the dead worker's missing heartbeat): every job ends succeeded, each
    effect exists exactly once, nothing is lost."""
    queue = "pre-processor"
    first = workers.start([queue], "kill-first", concurrency=2)
    committed = await defer(client, "effect", queue, key="kill-committed", hang="after_commit")
    open_tx = await defer(client, "effect", queue, key="kill-open-tx", hang="in_transaction")
    waiting = [await defer(client, "effect", queue, key=f"kill-waiting-{i}") for i in range(3)]
    assert await workers.signalled("kill-committed", "hanging") == first.pid
    assert await workers.signalled("kill-open-tx", "hanging") == first.pid
    assert await all_in(admin, [committed, open_tx], "doing")
    assert await all_in(admin, waiting, "todo")  # both of the worker's slots are taken

    first.proc.send_signal(signal.SIGKILL)
    assert await first.exited(5) == -signal.SIGKILL
    assert [e["attempt"] for e in await effects(admin, "kill-committed")] == [0]
    assert await effects(admin, "kill-open-tx") == []  # rolled back with the dead connection
    assert await all_in(admin, [committed, open_tx], "doing")  # nobody has noticed yet

    # A long polling interval: the recovered jobs must be announced, not found by polling.
    second = workers.start([queue], "kill-second", polling_s=30)
    every = [committed, open_tx, *waiting]
    await eventually(lambda: all_in(admin, every, "succeeded"), 15, "all jobs to succeed", workers)

    for job_id, key in ((committed, "kill-committed"), (open_tx, "kill-open-tx")):
        assert (await job(admin, job_id))["attempts"] == 2
        done = await runs(admin, key)
        assert [(r["attempt"], r["pid"]) for r in done] == [(0, first.pid), (1, second.pid)]
        assert done[0]["finished_at"] is None
        assert done[1]["finished_at"] is not None
        assert {r["db_user"] for r in done} == {ROLE}
        assert [
            e["type"]
            for e in await events(
                admin, job_id, "started", "deferred_for_retry", "succeeded", "failed", "aborted"
            )
        ] == ["started", "deferred_for_retry", "started", "succeeded"]
    # Exactly once: the committed effect is the first run's (the second run's insert did
    # nothing); the uncommitted one was redone by the second run.
    assert [e["attempt"] for e in await effects(admin, "kill-committed")] == [0]
    assert [e["attempt"] for e in await effects(admin, "kill-open-tx")] == [1]
    for i, job_id in enumerate(waiting):
        assert (await job(admin, job_id))["attempts"] == 1
        assert len(await effects(admin, f"kill-waiting-{i}")) == 1
        assert [r["pid"] for r in await runs(admin, f"kill-waiting-{i}")] == [second.pid]

    second.proc.send_signal(signal.SIGTERM)
    assert await second.exited(10) == 0


def test_default_retry_doubles_its_wait_up_to_eight_runs() -> None:
    assert [DEFAULT_RETRY.wait_s(runs) for runs in range(7)] == [1, 2, 4, 8, 16, 32, 64]
    assert DEFAULT_RETRY.wait_s(20) == DEFAULT_RETRY.cap_s
    failure = RuntimeError("down")
    for attempts in range(7):
        decision = DEFAULT_RETRY.get_retry_decision(
            exception=failure,
            job=Job(
                id=1, queue="q", lock=None, queueing_lock=None, task_name="t", attempts=attempts
            ),
        )
        assert decision is not None
        assert decision.retry_at is not None
    assert (
        DEFAULT_RETRY.get_retry_decision(
            exception=failure,
            job=Job(id=1, queue="q", lock=None, queueing_lock=None, task_name="t", attempts=7),
        )
        is None
    )


async def test_failing_job_is_retried_with_growing_waits_then_succeeds(
    admin: Admin, client: procrastinate.App, workers: Workers
) -> None:
    """A task with the default retry strategy fails twice, then succeeds: 3 attempts, each retry
    scheduled after its failure, the second wait longer than the first (1 s, then 2 s, each up
    to 25 % longer), and no run before it was due."""
    queue = "retries"
    workers.start([queue], "retrier", polling_s=0.1)
    job_id = await defer(client, "flaky", queue, key="flaky", failures=2)
    await eventually(lambda: all_in(admin, [job_id], "succeeded"), 20, "the flaky job", workers)

    assert (await job(admin, job_id))["attempts"] == 3
    assert [r["attempt"] for r in await runs(admin, "flaky")] == [0, 1, 2]
    assert len(await effects(admin, "flaky")) == 1
    history = await events(admin, job_id, "started", "deferred_for_retry", "scheduled", "succeeded")
    assert [e["type"] for e in history if e["type"] != "scheduled"] == [
        "started",
        "deferred_for_retry",
        "started",
        "deferred_for_retry",
        "started",
        "succeeded",
    ]
    started = [e["at"] for e in history if e["type"] == "started"]
    failed = [e["at"] for e in history if e["type"] == "deferred_for_retry"]
    due = [e["at"] for e in history if e["type"] == "scheduled"]
    waits = [d - f for f, d in zip(failed, due, strict=True)]
    assert 0 < waits[0].total_seconds() < waits[1].total_seconds(), waits
    assert started[1] >= due[0]
    assert started[2] >= due[1]


async def test_worker_takes_only_the_jobs_of_its_queues(
    admin: Admin, client: procrastinate.App, workers: Workers
) -> None:
    """A job of queue B, deferred first, waits while a worker of queue A takes A's job after
    it and looks again; a worker of queue B then takes it."""
    only_b = await defer(client, "effect", "queue-b", key="only-b")
    only_a = await defer(client, "effect", "queue-a", key="only-a")
    worker_a = workers.start(["queue-a"], "worker-a", polling_s=0.1)
    await eventually(lambda: all_in(admin, [only_a], "succeeded"), 15, "queue A's job", workers)
    await workers.idle(worker_a)  # it looked at its queue again and found nothing
    assert (await job(admin, only_b))["status"] == "todo"
    assert (await job(admin, only_b))["attempts"] == 0
    assert await runs(admin, "only-b") == []
    assert [r["pid"] for r in await runs(admin, "only-a")] == [worker_a.pid]

    worker_b = workers.start(["queue-b"], "worker-b")
    await eventually(lambda: all_in(admin, [only_b], "succeeded"), 15, "queue B's job", workers)
    assert [r["pid"] for r in await runs(admin, "only-b")] == [worker_b.pid]


async def listening(admin: Admin, worker: str, queue: str) -> bool:
    cur = await admin.execute(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = %s"
        " AND starts_with(query, %s)",
        (worker, f'LISTEN "procrastinate_queue_v1#{queue}"'),
    )
    row = await cur.fetchone()
    return bool(row and row["n"])


async def test_new_job_wakes_an_idle_worker_through_notify(
    admin: Admin, client: procrastinate.App, workers: Workers
) -> None:
    """A worker polling only every 10 min, idle after finding its queue empty, runs a job
    deferred to it: the insert's NOTIFY woke it, not polling."""
    queue = "notify"
    worker = workers.start([queue], "notified", polling_s=600, concurrency=1)
    await eventually(
        lambda: listening(admin, "notified", queue), 15, "the worker to LISTEN", workers
    )
    await workers.idle(worker)

    job_id = await defer(client, "effect", queue, key="notified")
    await eventually(lambda: all_in(admin, [job_id], "succeeded"), 15, "the notified job", workers)


async def test_sigterm_lets_a_short_job_finish(
    admin: Admin, client: procrastinate.App, workers: Workers
) -> None:
    """SIGTERM while a job runs, with 10 min of grace: the worker waits for the job, which
    finishes and succeeds, and then leaves at once and cleanly (exit 0, unregistered)."""
    queue = "shutdown-short"
    worker = workers.start([queue], "short-lived", grace_s=600)
    job_id = await defer(client, "held", queue, key="short")
    await workers.signalled("short", "started")
    worker.proc.send_signal(signal.SIGTERM)
    await eventually(
        lambda: asyncio.to_thread(lambda: WAITING_FOR_JOBS in worker.log()),
        15,
        "the stopping worker to wait for its job",
        workers,
    )
    assert worker.proc.poll() is None
    assert (await job(admin, job_id))["status"] == "doing"
    worker.proc.send_signal(signal.SIGUSR1)  # the job may finish now
    assert await worker.exited(15) == 0, worker.log()

    finished = await job(admin, job_id)
    assert finished["status"] == "succeeded"
    assert finished["attempts"] == 1
    assert finished["worker_id"] is None  # the worker unregistered on its way out
    (run,) = await runs(admin, "short")
    assert run["finished_at"] is not None
    assert len(await effects(admin, "short")) == 1


async def test_sigterm_puts_a_job_longer_than_the_grace_back_for_another_worker(
    admin: Admin, client: procrastinate.App, workers: Workers
) -> None:
    """SIGTERM while a job runs that will not finish, with 2 s of grace: the worker waits out the
    grace, aborts the job, exits cleanly, and the job goes back to the queue (it is not left
    aborted), where another worker, idle and polling only every 10 min, is woken to run it to
    success."""
    queue = "shutdown-long"
    first = workers.start([queue], "long-first", grace_s=2)
    job_id = await defer(client, "held", queue, key="long")
    assert await workers.signalled("long", "started") == first.pid
    second = workers.start([queue], "long-second", polling_s=600)
    await eventually(
        lambda: listening(admin, "long-second", queue), 15, "the second worker to LISTEN", workers
    )
    await workers.idle(second)

    cur = await admin.execute("SELECT clock_timestamp() AS now")
    stopping_at = (await cur.fetchone() or {})["now"]
    first.proc.send_signal(signal.SIGTERM)
    assert await first.exited(15) == 0, first.log()
    await eventually(
        lambda: all_in(admin, [job_id], "succeeded"), 10, "the job's second run", workers
    )

    assert (await job(admin, job_id))["attempts"] == 2
    history = await events(
        admin, job_id, "started", "deferred_for_retry", "succeeded", "failed", "aborted"
    )
    assert [e["type"] for e in history] == ["started", "deferred_for_retry", "started", "succeeded"]
    done = await runs(admin, "long")
    assert [(r["attempt"], r["pid"]) for r in done] == [(0, first.pid), (1, second.pid)]
    assert done[0]["finished_at"] is None
    assert [e["attempt"] for e in await effects(admin, "long")] == [1]
    # Back in the queue only after the stop and once the grace was over (the stopping worker's
    # heartbeat went on meanwhile, so nobody took the job from under it).
    assert history[1]["at"] > stopping_at
    log = first.log()
    assert log.index(WAITING_FOR_JOBS) < log.index(GRACE_OVER), log


async def test_housekeeping_is_periodic_on_its_queue_and_prunes_old_succeeded_jobs(
    admin: Admin, client: procrastinate.App, workers: Workers, job_settings: Settings
) -> None:
    """The housekeeping blueprint registers a periodic task on the service's queue; the
    periodic deferrer defers it once per tick however many workers try; run by a worker, it
    deletes the queue's succeeded jobs older than 72 h and keeps everything else."""
    queue = "housekeeping"
    app = make_job_app(job_settings, ROLE, {f"{queue}.housekeeping": housekeeping(queue)})
    task_name = f"{queue}.housekeeping:prune_finished_jobs"
    assert task_name in app.tasks
    (periodic,) = app.periodic_registry.periodic_tasks.values()
    assert periodic.task.name == task_name
    assert periodic.cron == HOUSEKEEPING_CRON
    assert periodic.task.queue == queue

    async def finished_job(key: str, job_queue: str, status: str, age_h: int) -> int:
        job_id = await defer(client, "effect", job_queue, key=key)
        await admin.execute(
            "UPDATE procrastinate_jobs SET status = %s::procrastinate_job_status WHERE id = %s",
            (status, job_id),
        )
        await admin.execute(
            "UPDATE procrastinate_events SET at = now() - make_interval(hours => %s)"
            " WHERE job_id = %s",
            (age_h, job_id),
        )
        return job_id

    old_done = await finished_job("old-done", queue, "succeeded", 73)
    recent_done = await finished_job("recent-done", queue, "succeeded", 1)
    old_failed = await finished_job("old-failed", queue, "failed", 73)
    old_done_elsewhere = await finished_job("old-done-elsewhere", "elsewhere", "succeeded", 73)

    tick = int(periodic.croniter.get_prev(float, start_time=time.time()))  # the last :17
    async with app.open_async():
        for _ in range(2):  # two workers' deferrers, same tick
            deferrer = PeriodicDeferrer(registry=app.periodic_registry, **app.periodic_defaults)
            await deferrer.defer_jobs(deferrer.get_previous_tasks(at=tick + 1.0))
    cur = await admin.execute(
        "SELECT job_id FROM procrastinate_periodic_defers WHERE task_name = %s"
        " AND defer_timestamp = %s",
        (task_name, tick),
    )
    (defer_row,) = await cur.fetchall()
    prune = await job(admin, defer_row["job_id"])
    assert prune["queue_name"] == queue
    assert prune["args"] == {"timestamp": tick}

    workers.start([queue], "housekeeper", polling_s=0.1)
    await eventually(
        lambda: all_in(admin, [prune["id"]], "succeeded"), 15, "the prune job", workers
    )
    cur = await admin.execute(
        "SELECT id FROM procrastinate_jobs WHERE id = ANY(%s)",
        ([old_done, recent_done, old_failed, old_done_elsewhere],),
    )
    assert {row["id"] for row in await cur.fetchall()} == {
        recent_done,
        old_failed,
        old_done_elsewhere,
    }
    cur = await admin.execute(
        "SELECT count(*) AS n FROM procrastinate_jobs WHERE task_name = %s", (task_name,)
    )
    assert (await cur.fetchone() or {}).get("n") == 1


async def test_stalled_job_is_recovered_once_and_never_taken_from_its_new_worker(
    admin: Admin, client: procrastinate.App, job_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers recovering the same stalled job at once put it back once. A worker whose
    list of stalled jobs went stale (meanwhile another recovered the job and a third took it)
    leaves the job with the worker now running it."""
    queue = "recovery"
    other = make_job_app(job_settings, ROLE, {})
    manager = client.job_manager
    async with other.open_async():
        dead = await manager.register_worker()
        alive = await manager.register_worker()
        job_id = await defer(client, "effect", queue, key="recovered")
        taken = await manager.fetch_job([queue], dead)
        assert taken is not None
        assert taken.id == job_id
        await admin.execute(
            "UPDATE procrastinate_workers SET last_heartbeat = now() - "
            "interval '1 hour' WHERE id = %s",
            (dead,),
        )

        counts = await asyncio.gather(
            recover_stalled_jobs(client, [queue], 30), recover_stalled_jobs(other, [queue], 30)
        )
        assert sorted(counts) == [0, 1]
        recovered = await job(admin, job_id)
        assert recovered["status"] == "todo"
        assert recovered["attempts"] == 1
        assert len(await events(admin, job_id, "deferred_for_retry")) == 1

        # Make it stalled again, then let the recovery's list go stale before it acts on it.
        assert await manager.fetch_job([queue], dead) is not None
        stale_list = manager.get_stalled_jobs

        async def meanwhile_recovered_and_taken(**kwargs: Any) -> Any:
            stalled = await stale_list(**kwargs)
            assert await recover_stalled_jobs(other, [queue], 30) == 1
            assert await manager.fetch_job([queue], alive) is not None
            return stalled

        monkeypatch.setattr(manager, "get_stalled_jobs", meanwhile_recovered_and_taken)
        assert await recover_stalled_jobs(client, [queue], 30) == 0
        running = await job(admin, job_id)
        assert running["status"] == "doing"
        assert running["worker_id"] == alive
        assert running["attempts"] == 2
