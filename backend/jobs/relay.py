"""The relay: from committed outbox rows to broker messages.

Crash safety: a row committed but not yet relayed stays 'pending' and the next relay
(in any process, after any restart) sends it. A row sent but not marked (the relay died
in between) is sent again; the runner's idempotency makes the second message a no-op.
A row 'dispatched' for longer than JOB_REDISPATCH_AFTER_SECONDS without finishing (its
worker was killed, or Redis lost the message) is sent again: nothing is lost.
"""

import logging
import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from backend.db import utcnow
from backend.extensions import db
from backend.jobs import broker
from backend.jobs.models import DISPATCHED, PENDING, OutboxJob
from backend.jobs.runner import execute, in_fresh_context, release_callers_session

log = logging.getLogger("backend.jobs")


def relay_pending(*, limit: int = 500) -> int:
    """Send due rows to the broker and mark them dispatched, in one short unit of work.

    Returns how many were sent. If the broker fails midway, the rows already sent are
    still marked, the rest stay pending, and the broker's error is raised.
    """
    release_callers_session(strict=False)
    return in_fresh_context(_relay, broker.app_for_jobs(), limit)


def _relay(app: Flask, limit: int) -> int:
    sent: list[OutboxJob] = []
    failure: Exception | None = None
    with app.app_context():
        session = db.session
        try:
            for row in _claim_due(session, app, limit=limit):
                try:
                    broker.send(actor=row.actor, outbox_id=row.id)
                except Exception as exc:  # broker down: keep what was sent, leave the rest pending
                    failure = exc
                    break
                sent.append(row)
            now = utcnow()
            for row in sent:
                row.state = DISPATCHED
                row.dispatched_at = now
            session.commit()
        except BaseException:
            session.rollback()
            raise
    if sent:
        log.info("jobs.relayed", extra={"count": len(sent)})
    if failure is not None:
        log.error("jobs.relay_broker_failed", extra={"sent": len(sent)})
        raise failure
    return len(sent)


def _claim_due(session, app: Flask, *, limit: int) -> list[OutboxJob]:
    """Due pending rows, then stale dispatched ones, locked against other relays."""
    now = utcnow()
    stale_before = now - timedelta(seconds=float(app.config["JOB_REDISPATCH_AFTER_SECONDS"]))
    pending = (
        sa.select(OutboxJob)
        .where(OutboxJob.state == PENDING, OutboxJob.run_after <= now)
        .order_by(OutboxJob.run_after, OutboxJob.id)
        .limit(limit)
    )
    rows = list(session.scalars(_skip_locked(session, pending)))
    if len(rows) < limit:
        # A row being run holds its lock (PostgreSQL), so a slow job is skipped, not re-sent.
        stale = (
            sa.select(OutboxJob)
            .where(OutboxJob.state == DISPATCHED, OutboxJob.dispatched_at <= stale_before)
            .order_by(OutboxJob.dispatched_at, OutboxJob.id)
            .limit(limit - len(rows))
        )
        redispatch = list(session.scalars(_skip_locked(session, stale)))
        if redispatch:
            log.warning("jobs.redispatch_stale", extra={"job_ids": [r.id for r in redispatch]})
        rows += redispatch
    return rows


def _skip_locked(session, stmt):
    # SQLite has no row locks; its BEGIN IMMEDIATE makes the relay the only writer anyway.
    if session.get_bind(OutboxJob.__mapper__).dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def drain(*, max_rounds: int = 100) -> int:
    """Run every due job in this thread, in order, until none is due; returns how many ran.

    For tests and one-off commands: deterministic, no threads, no broker. Jobs a job
    enqueues are run too if they are due; jobs waiting for a backoff are not. Rows already
    handed to a broker that nobody consumes here ('dispatched') are run as well; a worker
    that also receives them later finds them done.
    """
    app = broker.app_for_jobs()
    release_callers_session()
    ran = 0
    for _ in range(max_rounds):
        due = _due_ids(app)
        if not due:
            return ran
        for outbox_id in due:
            execute(app, outbox_id)
            ran += 1
    raise RuntimeError(f"jobs still due after {max_rounds} rounds: a job keeps making due work")


def _due_ids(app: Flask, limit: int = 1000) -> list[int]:
    return in_fresh_context(_select_due_ids, app, limit)


def _select_due_ids(app: Flask, limit: int) -> list[int]:
    with app.app_context():
        now = utcnow()
        return list(
            db.session.scalars(
                sa.select(OutboxJob.id)
                .where(
                    sa.or_(
                        sa.and_(OutboxJob.state == PENDING, OutboxJob.run_after <= now),
                        OutboxJob.state == DISPATCHED,
                    )
                )
                .order_by(OutboxJob.run_after, OutboxJob.id)
                .limit(limit)
            )
        )


class RelayLoop:
    """A thread relaying every `interval` seconds, and at once when nudged.

    Runs inside the embedded server and inside each `flask worker` process.
    """

    def __init__(self, *, interval: float, name: str = "bpm-jobs-relay"):
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "RelayLoop":
        with _loops_lock:
            _loops.add(self)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        with _loops_lock:
            _loops.discard(self)

    def nudge(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            # Clear before relaying: a nudge that arrives during the pass is not lost.
            self._wake.clear()
            try:
                relay_pending()
                failures = 0
            except Exception:  # a broker or database hiccup must not kill the loop
                failures += 1
                log.exception("jobs.relay_failed", extra={"failures": failures})
            # While the broker is down, wait longer between attempts (up to 30 s), unless nudged.
            self._wake.wait(min(self.interval * 2**failures, max(self.interval, 30.0)))


_loops: set[RelayLoop] = set()
_loops_lock = threading.Lock()


def nudge() -> None:
    """Relay now rather than at the next tick: called after a commit that enqueued jobs.

    Wakes the relay loops of this process; a process without one (a web process in
    Redis mode) relies on the loops of the worker processes, one interval away.
    """
    with _loops_lock:
        loops = list(_loops)
    for loop in loops:
        loop.nudge()
