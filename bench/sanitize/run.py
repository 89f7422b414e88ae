"""Sanitizer benchmark: deeply nested HTML through `sanitize_html` and `plain_text`, with the
baseline of the same parsers (nh3 and lexbor) given the document without the nesting cap.

    .venv/bin/python -m bench.sanitize.run [--depth 100000] [--repeat 3]

The cap (`limit_nesting`) is what keeps both parsers linear on hostile input: without it,
100,000 nested elements take nh3 ~15 s and lexbor ~11 s on the target machine. The tests check
that the parsers only ever see capped input; this measures what that buys.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from selectolax.lexbor import LexborHTMLParser

from alt.feeds import sanitize

BASE = "https://blog.example/posts/42.html"


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--depth", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    deep = "<div>" * args.depth + "x" + "</div>" * args.depth

    def alt() -> None:
        sanitize.sanitize_html(deep, BASE)
        sanitize.plain_text(deep)

    def baseline() -> None:
        sanitize._cleaner.clean(deep)
        LexborHTMLParser(deep).text()

    ours = best_of(args.repeat, alt)
    theirs = best_of(1, baseline)  # seconds each: once is enough to see it
    print(f"depth {args.depth}: Alt {ours:.3f} s, uncapped parsers {theirs:.3f} s")
    print(f"ratio: {theirs / ours:.0f}x faster than the baseline")


if __name__ == "__main__":
    main()
