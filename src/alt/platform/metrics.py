"""Prometheus metrics shared by every HTTP service.

`alt serve` with several workers runs each in a process of its own. Then every process keeps its
metrics in files of one directory (prometheus_client's multiprocess mode, chosen by
PROMETHEUS_MULTIPROC_DIR before the library is imported), and `/metrics` adds up all of them,
whichever worker answers the scrape.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "alt_http_requests_total", "HTTP requests served.", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "alt_http_request_duration_seconds",
    "Time to serve an HTTP request.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_FLIGHT = Gauge(
    "alt_http_requests_in_flight",
    "Requests being served.",
    ["service"],
    multiprocess_mode="livesum",
)
SERVICE_TOKEN_REJECTED = Counter(
    "alt_service_token_rejected_total",
    "Calls refused for a missing or bad service token.",
    ["service"],
)
CSP_VIOLATIONS = Counter(
    "alt_csp_violations_total",
    "Content-Security-Policy violations that browsers reported on the UI's pages.",
    ["directive"],
)


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's together."""
    folder = os.environ.get(MULTIPROCESS_DIR_ENV)
    if not folder:
        return generate_latest()
    _forget_dead_workers(folder)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, folder)  # type: ignore[no-untyped-call]  # untyped in the library
    return generate_latest(registry)


def _forget_dead_workers(folder: str) -> None:
    """A worker that exited leaves the files of its live gauges (in-flight requests, …): they
    must stop counting. Its counters stay, as the requests it served happened."""
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        if not _running(pid):
            mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: running
    return True
