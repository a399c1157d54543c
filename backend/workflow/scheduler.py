"""The clock the engine lacks: find due timers and hand them to workers.

Embedded mode runs `run_forever` in a daemon thread of the web process; production runs
it as its own process (`flask --app app scheduler run`). Several schedulers may run at
once: timer jobs carry an idempotency key, so a due timer is enqueued once.
"""

import logging
import threading
import time

from backend import jobs
from backend.extensions import db
from backend.workflow import service

log = logging.getLogger("backend.scheduler")
_started = threading.Event()


def tick(app) -> int:
    """One pass: enqueue due timers (one unit of work), then relay the outbox."""
    with app.app_context():
        try:
            count = service.schedule_due_timers(session=db.session)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
    jobs.relay_pending()
    return count


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
