"""The clock the engine lacks: find due timers and hand them to workers.

Embedded mode runs `run_forever` in a daemon thread of the web process; production runs
it as its own process (`flask --app app scheduler run`). Several schedulers may run at
once: timer jobs carry an idempotency key, so a due timer is enqueued once.
"""

import logging
import threading
import time
from datetime import timedelta

from backend import jobs
from backend.extensions import db
from backend.jobs.service import prune_done
from backend.workflow import service

log = logging.getLogger("backend.scheduler")
_started = threading.Event()
PRUNE_EVERY_SECONDS = 600.0
_last_prune = [float("-inf")]
# Other periodic work (ledger checkpoints): fn(*, session) run in each pass's unit of work.
_tick_hooks: list = []


def on_tick(fn) -> None:
    if fn not in _tick_hooks:
        _tick_hooks.append(fn)


def tick(app) -> int:
    """One pass: enqueue due timers (one unit of work), then relay the outbox."""
    with app.app_context():
        try:
            count = service.schedule_due_timers(session=db.session)
            for hook in _tick_hooks:
                hook(session=db.session)
            _prune_outbox(app, session=db.session)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
    jobs.relay_pending()
    return count


def _prune_outbox(app, *, session, now: float | None = None) -> int:
    """Done outbox rows older than JOB_DONE_RETENTION_DAYS go, a batch per pass, at most
    every PRUNE_EVERY_SECONDS (several schedulers may prune: deleting is idempotent)."""
    now = time.monotonic() if now is None else now
    if now - _last_prune[0] < PRUNE_EVERY_SECONDS:
        return 0
    _last_prune[0] = now
    days = app.config.get("JOB_DONE_RETENTION_DAYS", 7)
    return prune_done(session=session, older_than=timedelta(days=days))


def run_forever(app, *, interval: float, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    log.info("scheduler.started", extra={"interval": interval})
    while not stop.is_set():
        try:
            due = tick(app)
            if due:
                log.info("scheduler.timers_due", extra={"count": due})
        except Exception:  # a bad pass must not kill the clock
            log.exception("scheduler.tick_failed")
        stop.wait(interval)


def start_background(app) -> None:
    """Start the embedded scheduler thread once per process."""
    if _started.is_set():
        return
    _started.set()
    thread = threading.Thread(
        target=run_forever,
        args=(app,),
        kwargs={"interval": app.config["SCHEDULER_INTERVAL_SECONDS"]},
        name="bpm-scheduler",
        daemon=True,
    )
    thread.start()
    time.sleep(0)  # let it take its first pass promptly
