"""Memory and CPU bounds of a parse, measured in a fresh subprocess (peak RSS growth over the
interpreter's own, CPU time of the parse alone): the security plan gives each document +64 MiB and
5 s. These are bounds that catch an expansion or a quadratic path, not benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.feeds.support import CORPUS

MAX_GROWTH_KIB = 64 * 1024
MAX_CPU_SECONDS = 5.0

PROBE = r"""
import gzip, json, resource, sys, time
from datetime import UTC, datetime
from alt.feeds.parse import FeedParseError, parse_feed
from alt.feeds.sanitize import sanitize_html

kind, name = sys.argv[1], sys.argv[2]
if kind == "file":
    data = open(name, "rb").read()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
elif name == "small-items":  # ~10 MiB (the feed body cap) of tiny items
    data = ("<rss><channel><title>t</title>" + "".join(
        f"<item><title>n{i}</title><guid>m-{i}</guid><link>https://f.example/m/{i}</link></item>"
        for i in range(90_000)) + "</channel></rss>").encode()
elif name == "big-items":  # ~10 MiB of items with HTML bodies
    body = "<p>" + "lorem ipsum dolor sit amet " * 200 + '<a href="/x">l</a></p>'
    data = ("<rss><channel><title>t</title>" + "".join(
        f"<item><title>t{i}</title><guid>g{i}</guid><description><![CDATA[{body}]]>"
        "</description></item>" for i in range(1800)) + "</channel></rss>").encode()
elif name == "deep-html":
    data = ("<div>" * 200_000 + "x" + "</div>" * 200_000).encode()
else:
    raise SystemExit(f"unknown input {name}")

kwargs = dict(url="https://feed.example/f", content_type=None, fetched_at=datetime.now(UTC))
parse_feed(b"<rss><channel><item><title>w</title><description>&lt;p&gt;w &lt;a href='/w'&gt;"
           b"w&lt;/a&gt;&lt;/p&gt;</description></item></channel></rss>", **kwargs)  # warm up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.process_time()
entries, outcome = 0, "parsed"
if name == "deep-html":
    sanitize_html(data.decode(), None)
else:
    try:
        entries = len(parse_feed(data, **kwargs).entries)
    except FeedParseError as exc:
        outcome = f"refused: {exc}"
print(json.dumps({
    "growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before,
    "cpu": time.process_time() - started, "outcome": outcome, "entries": entries,
    "size": len(data),
}))
"""


def measure(kind: str, name: str) -> dict[str, object]:
    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, kind, name],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, object] = json.loads(completed.stdout)
    return result


# PAR-01, PAR-05, PAR-06, PAR-15: hostile documents parse inside their memory and CPU budget.
@pytest.mark.parametrize(
    ("kind", "name", "outcome", "entries"),
    [
        ("file", "billion-laughs.xml", "refused", 0),
        ("file", "quadratic-blowup.xml", "refused", 0),
        ("file", "xxe-file.xml", "refused", 0),
        ("file", "many-items.rss.gz", "parsed", 500),
        ("file", "deep-nesting-html.rss", "parsed", 2),
        ("file", "huge-title.atom", "parsed", 5),
        ("synthetic", "small-items", "parsed", 500),
        ("synthetic", "big-items", "parsed", 500),
        ("synthetic", "deep-html", "parsed", 0),
    ],
)
def test_parse_stays_inside_its_budget(kind: str, name: str, outcome: str, entries: int) -> None:
    result = measure(kind, str(CORPUS / name) if kind == "file" else name)
    assert str(result["outcome"]).startswith(outcome), result
    assert result["entries"] == entries, result
    growth, cpu = result["growth_kib"], result["cpu"]
    assert isinstance(growth, int)
    assert isinstance(cpu, float)
    assert growth < MAX_GROWTH_KIB, result
    assert cpu < MAX_CPU_SECONDS, result
