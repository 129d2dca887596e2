"""Operations: request ids, Prometheus metrics and readiness.

Metrics are correct under several gunicorn workers: gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before
the workers import this module, each worker writes its own files there, and /metrics merges them
(prometheus_client multiprocess mode). Without that variable (a single process) the default registry
is used.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

HTTP_REQUESTS = Counter(
    "cds_http_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "cds_http_request_duration_seconds", "HTTP request latency by route", ["route"], buckets=_LATENCY_BUCKETS
)
CARDS = Counter("cds_cards_total", "Cards issued by service, topic and indicator", ["service", "topic", "indicator"])
FEEDBACK = Counter("cds_feedback_total", "Card feedback items by service and outcome", ["service", "outcome"])
FHIR_CALLS = Counter("cds_fhir_fallback_requests_total", "FHIR-server fallback requests by outcome", ["outcome"])
FHIR_LATENCY = Histogram(
    "cds_fhir_fallback_request_duration_seconds", "FHIR-server fallback request latency", buckets=_LATENCY_BUCKETS
)
AUTH_FAILURES = Counter("cds_auth_failures_total", "Refused CDS client authentications by reason", ["reason"])


def install(app: Flask) -> None:
    """Request ids (X-Request-ID accepted or generated, echoed back) and per-request metrics."""

    # The labelled series, looked up once each (labels() takes a lock and hashes its values on every call).
    # Bounded: route templates x methods x status codes.
    counters: dict[tuple[str, str, int], Any] = {}
    latencies: dict[str, Any] = {}

    @app.before_request
    def _start() -> None:
        offered = request.headers.get("X-Request-ID")
        g.request_id = offered if offered and REQUEST_ID.match(offered) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        # Route templates, not raw paths, keep the label set small (unknown paths are one "unmatched").
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        key = (route, request.method, response.status_code)
        counter = counters.get(key)
        if counter is None:
            counter = counters[key] = HTTP_REQUESTS.labels(route, request.method, str(response.status_code))
        counter.inc()
        latency = latencies.get(route)
        if latency is None:
            latency = latencies[route] = HTTP_LATENCY.labels(route)
        latency.observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response


def metrics_response() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
