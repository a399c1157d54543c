"""Background jobs through a transactional outbox.

    @jobs.job("workflow.fire_timers", max_retries=3)
    def fire_timers(payload: dict) -> None: ...          # uses db.session, never commits

    jobs.enqueue(session=session, actor="workflow.fire_timers", payload={...})
    session.commit()                                      # the row commits with the change

Flow: `enqueue` writes an `outbox_job` row in the caller's transaction. After commit the
relay (`relay_pending`: relay loop thread, scheduler, or `flask jobs relay`) sends due
rows to dramatiq and marks them 'dispatched'. A worker locks the row, runs the job and
marks the row 'done' in the same transaction as the job's work. Failures roll the work
back, count an attempt and re-schedule the row with exponential backoff ('pending',
run_after later) until max_retries, then 'dead'. `max_retries=0` jobs go straight to
'failed' and may `raise jobs.Retry(delay_seconds=...)` to be run again later.
Duplicate messages (relay crash, Redis redelivery) find the row done and do nothing; rows
dispatched longer than JOB_REDISPATCH_AFTER_SECONDS are sent again, so a lost message
or a killed worker loses nothing.

Runtimes: with REDIS_URL, a RedisBroker and `flask worker` processes; without it, a
StubBroker with worker threads and a relay thread in the web process (`start_embedded`,
called by `flask serve`). Tests run jobs deterministically with `drain()`.
"""

import os

from flask import Flask

from backend.jobs.broker import broker_status
from backend.jobs.embedded import start_embedded, stop_embedded
from backend.jobs.registry import Retry, UnknownJob, job
from backend.jobs.relay import drain, nudge, relay_pending
from backend.jobs.runner import run_job_now
from backend.jobs.service import NotRedeliverable, enqueue, redeliver

__all__ = [
    "NotRedeliverable",
    "Retry",
    "UnknownJob",
    "broker_status",
    "drain",
    "enqueue",
    "init_app",
    "job",
    "nudge",
    "redeliver",
    "relay_pending",
    "run_job_now",
    "start_embedded",
    "stop_embedded",
]

DEFAULTS = {
    "JOB_QUEUE": os.environ.get("JOB_QUEUE", "bpm"),
    # Redis key prefix: deployments (or test runs) sharing one Redis stay apart.
    "JOB_REDIS_NAMESPACE": os.environ.get("JOB_REDIS_NAMESPACE", "bpm"),
    # A dispatched row not finished after this long is sent again (lost message, killed worker).
    "JOB_REDISPATCH_AFTER_SECONDS": float(os.environ.get("JOB_REDISPATCH_AFTER_SECONDS", "600")),
    "JOB_RELAY_INTERVAL_SECONDS": float(os.environ.get("JOB_RELAY_INTERVAL_SECONDS", "1")),
    "JOB_EMBEDDED_THREADS": int(os.environ.get("JOB_EMBEDDED_THREADS", "2")),
    "JOB_WORKER_SHUTDOWN_SECONDS": float(os.environ.get("JOB_WORKER_SHUTDOWN_SECONDS", "30")),
    # Done rows are deleted by the scheduler after this many days (failed and dead stay).
    "JOB_DONE_RETENTION_DAYS": float(os.environ.get("JOB_DONE_RETENTION_DAYS", "7")),
}


def init_app(app: Flask) -> None:
    """Configure the broker (Redis if REDIS_URL else embedded), register the CLI commands
    and the commit hook that wakes the relay. Starts nothing."""
    from backend.jobs import broker, models  # noqa: F401  (register the outbox table)
    from backend.jobs.cli import jobs_cli, worker_command
    from backend.jobs.service import install_session_hooks

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    broker.configure(app)
    install_session_hooks()
    app.cli.add_command(worker_command)
    app.cli.add_command(jobs_cli)
