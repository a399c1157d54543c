"""Embedded runtime of `make run`: dramatiq worker threads and the relay loop in the web process.

Started by `flask serve` (never by init_app). The broker is the one init_app built: the
in-process StubBroker when there is no REDIS_URL.
"""

import logging
import threading
from dataclasses import dataclass

import dramatiq
from flask import Flask

from backend.jobs import broker
from backend.jobs.relay import RelayLoop

log = logging.getLogger("backend.jobs")


@dataclass
class _Embedded:
    worker: dramatiq.Worker
    relay: RelayLoop


_lock = threading.Lock()
_running: _Embedded | None = None


def start_embedded(app: Flask) -> None:
    """Start the worker threads and the relay loop once per process (idempotent, thread-safe)."""
    global _running
    with _lock:
        if _running is not None:
            return
        worker = dramatiq.Worker(
            broker.current_broker(),
            queues={broker.queue_name()},
            worker_threads=int(app.config["JOB_EMBEDDED_THREADS"]),
        )
        worker.start()
        relay = RelayLoop(interval=float(app.config["JOB_RELAY_INTERVAL_SECONDS"])).start()
        _running = _Embedded(worker=worker, relay=relay)
    log.info("jobs.embedded_started", extra={"threads": app.config["JOB_EMBEDDED_THREADS"]})


def stop_embedded(timeout: float = 10) -> None:
    """Stop them, letting jobs in progress finish (up to `timeout` seconds). For tests."""
    global _running
    with _lock:
        running, _running = _running, None
    if running is None:
        return
    running.relay.stop(timeout)
    stop_worker(running.worker, timeout=timeout)
    log.info("jobs.embedded_stopped")


def stop_worker(worker: dramatiq.Worker, *, timeout: float) -> None:
    """Stop a dramatiq Worker and detach it from its broker, which may get another one later."""
    worker.stop(timeout=int(timeout * 1000))
    worker.broker.middleware = [
        m for m in worker.broker.middleware if getattr(m, "worker", None) is not worker
    ]


def is_running() -> bool:
    return _running is not None
