"""Feed parsing off the fetcher's event loop, in worker processes.

Parsing and sanitising are most of the CPU a fetch round costs, and Python runs them one at a
time per process; in worker processes they use every core while the fetcher's loop keeps
fetching and storing. The workers are plain child processes (`alt.preprocessor.parse_worker`)
spoken to over their stdin and stdout through the event loop: no helper threads in the
fetcher, whose handoffs of the interpreter lock would stall the loop on every feed.

A worker is also a wall: a feed that crashes the parser (a native library fault, the kernel's
OOM killer) or exhausts its CPU budget costs that feed, never the fetcher. A dead worker's
feeds fail like any other fetch error, with backoff, and a new worker takes its place.

With no workers configured, feeds are parsed in a thread of the fetcher's own process; a parser
bug is then still that feed's failure, as in a worker.
"""

from __future__ import annotations

import asyncio
import collections
import pickle
import sys
from datetime import datetime

from alt.feeds.parse import FeedParseError, ParsedFeed
from alt.platform.logging import get_logger
from alt.preprocessor.parse_worker import HEADER, frame, parse_or_refuse

log = get_logger(__name__)

Answer = asyncio.Future[tuple[str, object]]
JOBS_PER_WORKER = 16
_STOPPED = "the parser stopped while reading this feed"


class _Worker:
    """One worker process and the answers it owes, in the order of its jobs."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.owed: collections.deque[Answer] = collections.deque()
        self.reader = asyncio.create_task(self._read_answers())

    @classmethod
    async def start(cls, cpu_budget_s: float) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "alt.preprocessor.parse_worker",
            str(cpu_budget_s),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    def ask(self, job: bytes) -> Answer:
        """Send a job; the future resolves with its answer. The pipe's buffer holds what the
        worker has not read yet: callers bound how many jobs are out (`FeedParsers._room`)."""
        assert self.process.stdin is not None
        answer: Answer = asyncio.get_running_loop().create_future()
        if not self.alive:  # its reader has already failed what it owed
            answer.set_exception(FeedParseError(_STOPPED))
            return answer
        self.owed.append(answer)
        self.process.stdin.write(frame(job))
        return answer

    async def _read_answers(self) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                header = await self.process.stdout.readexactly(HEADER)
                message = await self.process.stdout.readexactly(int.from_bytes(header, "big"))
                answer = self.owed.popleft()
                if not answer.done():
                    answer.set_result(pickle.loads(message))  # noqa: S301 (our own child)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker is gone
        finally:
            gone = FeedParseError(_STOPPED)
            while self.owed:
                answer = self.owed.popleft()
                if not answer.done():
                    answer.set_exception(gone)

    @property
    def alive(self) -> bool:
        return not self.reader.done()

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self.reader


class FeedParsers:
    def __init__(self, workers: int, cpu_budget_s: float = 5.0) -> None:
        self.workers = workers
        self.cpu_budget_s = cpu_budget_s
        self._pool: list[_Worker] = []
        self._starting = asyncio.Lock()
        self._room = asyncio.Semaphore(JOBS_PER_WORKER * workers)

    async def __aenter__(self) -> FeedParsers:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the workers now (each imports the parser once) rather than on the first feed,
        and replace any that died."""
        async with self._starting:
            dead = [worker for worker in self._pool if not worker.alive]
            self._pool = [worker for worker in self._pool if worker.alive]
            for worker in dead:
                code = await worker.process.wait()
                log.warning("feed_parser_restarted", exit_code=code)
            while len(self._pool) < self.workers:
                self._pool.append(await _Worker.start(self.cpu_budget_s))

    async def parse(
        self, body: bytes, *, url: str, content_type: str | None, fetched_at: datetime
    ) -> ParsedFeed:
        """The parsed feed; FeedParseError when it is not one or when a worker died on it."""
        if self.workers == 0:
            return await asyncio.to_thread(parse_or_refuse, body, url, content_type, fetched_at)
        # A few jobs queue in each worker's pipe, so that it never waits for the busy event loop
        # to hand it the next one; more would only hold bodies longer.
        async with self._room:
            worker = await self._least_busy()
            job = (body, url, content_type, fetched_at)
            status, value = await worker.ask(pickle.dumps(job, pickle.HIGHEST_PROTOCOL))
        if status != "ok":
            raise FeedParseError(str(value))
        assert isinstance(value, ParsedFeed)
        return value

    async def _least_busy(self) -> _Worker:
        if len(self._pool) < self.workers or not all(w.alive for w in self._pool):
            await self.start()
        return min(self._pool, key=lambda worker: len(worker.owed))

    async def close(self) -> None:
        async with self._starting:
            pool, self._pool = self._pool, []
            await asyncio.gather(*(worker.stop() for worker in pool))
