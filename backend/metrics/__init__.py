"""/metrics in Prometheus text format.

Two kinds of numbers, because gunicorn runs several processes and a scrape reaches one:
- HTTP request counts and latencies are kept in memory by each process (no shared state,
  no PROMETHEUS_MULTIPROC_DIR). A scrape shows the process that answered it, labelled with
  its `pid`; sum over scrapes/instances in Prometheus, and expect a reset when a worker restarts.
- Everything about the platform's state (jobs, instances, incidents, timer lag, webhook
  deliveries) is read from the database at scrape time, so every process reports the same.

Access: from localhost, or with `Authorization: Bearer <METRICS_TOKEN>`; otherwise 403.
"""

import os

from flask import Flask

DEFAULTS = {
    # Empty: only localhost may scrape.
    "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
}


def init_app(app: Flask) -> None:
    from backend.metrics import http, views

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    http.install(app)
    app.register_blueprint(views.bp)
