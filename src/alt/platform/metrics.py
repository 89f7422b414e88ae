"""Prometheus metrics shared by every HTTP service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "alt_http_requests_total", "HTTP requests served.", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "alt_http_request_duration_seconds",
    "Time to serve an HTTP request.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_FLIGHT = Gauge("alt_http_requests_in_flight", "Requests being served.", ["service"])
SERVICE_TOKEN_REJECTED = Counter(
    "alt_service_token_rejected_total",
    "Calls refused for a missing or bad service token.",
    ["service"],
)
