"""A feed-parsing worker process: reads jobs from stdin, writes results to stdout.

Each message is a 4-byte big-endian length and a pickle. A job is (body, url, content_type,
fetched_at); the result is ("ok", ParsedFeed) or ("error", message). Jobs are answered in the
order they came. Every job has a CPU budget (the security plan's default: 5 s per document); a
document that exhausts it is refused, and the worker goes on with the next one.

Only the fetcher starts these (`alt.preprocessor.parsing`), and only it writes to their stdin.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from datetime import datetime
from types import FrameType
from typing import BinaryIO

from alt.feeds.parse import FeedParseError, ParsedFeed, parse_feed
from alt.platform.logging import get_logger

HEADER = 4
log = get_logger(__name__)


class _OverBudget(BaseException):
    """Not an Exception: nothing in the parser may catch it and carry on."""


class _Budget:
    spent = False


def _over_budget(_signum: int, _frame: FrameType | None) -> None:
    # A callback from native code (the sanitizer's) may swallow the exception: re-arm, so it is
    # raised again soon, and remember, so the result is refused anyway.
    _Budget.spent = True
    signal.setitimer(signal.ITIMER_PROF, 0.05)
    raise _OverBudget


def read_message(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER)
    if len(header) < HEADER:
        return None
    return stream.read(int.from_bytes(header, "big"))


def frame(message: bytes) -> bytes:
    return len(message).to_bytes(HEADER, "big") + message


def parse_or_refuse(
    body: bytes, url: str, content_type: str | None, fetched_at: datetime
) -> ParsedFeed:
    """``parse_feed``, where a bug of the parser is this feed's FeedParseError: a feed fails,
    never the process that parses it."""
    try:
        return parse_feed(body, url=url, content_type=content_type, fetched_at=fetched_at)
    except FeedParseError:
        raise
    except Exception as exc:
        log.exception("feed_parser_failed", url=url)
        raise FeedParseError(f"the parser failed on this feed ({type(exc).__name__})") from exc


def _answer(job: bytes, budget_s: float) -> tuple[str, object]:
    body, url, content_type, fetched_at = pickle.loads(job)  # noqa: S301 (from our parent)
    # ITIMER_PROF counts this process's CPU time (user and system), not the wall clock.
    _Budget.spent = False
    signal.setitimer(signal.ITIMER_PROF, budget_s)
    try:
        feed = parse_or_refuse(body, url, content_type, fetched_at)
        if _Budget.spent:
            raise _OverBudget
        return "ok", feed
    except FeedParseError as exc:
        return "error", str(exc)
    except _OverBudget:
        return "error", f"the feed took more than {budget_s:g} s of CPU time to parse"
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def main() -> None:
    budget_s = float(sys.argv[1])
    signal.signal(signal.SIGPROF, _over_budget)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us by closing stdin
    # Results get stdout's pipe to themselves: whatever else writes to stdout goes to stderr.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    jobs = sys.stdin.buffer
    while (job := read_message(jobs)) is not None:
        answer = _answer(job, budget_s)
        results.write(frame(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)))
        results.flush()


if __name__ == "__main__":
    main()
