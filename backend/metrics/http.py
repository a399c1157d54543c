"""HTTP request count and latency, per process (see the package docstring)."""

import os
import time

from flask import Flask, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

# No `_created` series next to every counter: noise for this platform's dashboards.
disable_created_metrics()

_START = "bpm.metrics.start"
# Server time of a request: the inbox and API answer in milliseconds, uploads and reports in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    def __init__(self):
        # One registry per app: tests build several apps in one process.
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "bpm_http_requests",
            "HTTP requests answered by this process, by method, endpoint and status.",
            ("method", "endpoint", "status", "pid"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "bpm_http_request_duration_seconds",
            "Time from the first request hook to the response, in this process.",
            ("method", "endpoint", "pid"),
            buckets=BUCKETS,
            registry=self.registry,
        )


def install(app: Flask) -> HttpMetrics:
    metrics = HttpMetrics()
    app.extensions["bpm_http_metrics"] = metrics

    def _start():
        request.environ[_START] = time.perf_counter()

    # First of all hooks: one that answers early (a redirect) must not skip the clock.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _observe(response):
        started = request.environ.get(_START)
        # The endpoint name, not the path: bounded label values (unknown URLs are one series).
        endpoint = request.endpoint or "unmatched"
        pid = str(os.getpid())
        metrics.requests.labels(request.method, endpoint, str(response.status_code), pid).inc()
        if started is not None:
            metrics.latency.labels(request.method, endpoint, pid).observe(time.perf_counter() - started)
        return response

    return metrics


def registry(app: Flask) -> CollectorRegistry:
    return app.extensions["bpm_http_metrics"].registry
