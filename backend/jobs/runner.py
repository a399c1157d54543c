"""Running one outbox row: the same code for dramatiq workers, embedded threads and tests.

One execution is one unit of work: lock the row, run the job, mark the row done, commit.
The work and the 'done' mark commit together or not at all, so a row that is 'done' has
had its work committed exactly once, and a duplicate message for it does nothing.

A job that calls out (`call_out`, e.g. a webhook POST or an SMTP send) must not do so in
that unit of work: the row lock is, on SQLite, the database write lock, and every request
would wait for a slow receiver. It runs in phases instead: (1) lock, prepare, claim the row
(a fresh `dispatched_at`), commit; (2) the call, no transaction open; (3) lock the row again
and, if the claim is still ours, record the outcome with the 'done' mark. A duplicate that
took the row over in between (stale redispatch) changed the claim, so only one records.
A crash between (2) and (3) leaves the row 'dispatched': the relay re-sends it, the call is
made again (at-least-once), the outcome recorded once.
"""

import contextvars
import copy
import logging
import traceback
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, has_app_context

from backend.db import utcnow
from backend.extensions import db
from backend.jobs import registry
from backend.jobs.broker import app_for_jobs
from backend.jobs.models import DEAD, DISPATCHED, DONE, FAILED, PENDING, OutboxJob
from backend.jobs.registry import Retry
from backend.jobs.service import RUNNING_JOB, WROTE

log = logging.getLogger("backend.jobs")

# What one execution did with its row.
RAN = DONE  # "done"
RESCHEDULED = "retry"
SKIPPED = "skipped"  # not found, not due, or already finished: nothing ran
MAX_ERROR_CHARS = 8000


def run_job_now(outbox_id: int) -> str:
    """Run one outbox row in this thread, as a worker would; returns the outcome
    ('done', 'retry', 'failed', 'dead' or 'skipped')."""
    release_callers_session()
    return execute(app_for_jobs(), outbox_id)


def execute(app: Flask, outbox_id: int, *, expected_actor: str | None = None) -> str:
    """Run the row in its own app context, hence its own session and transaction."""
    return in_fresh_context(_execute, app, outbox_id, expected_actor)


def in_fresh_context(fn, *args):
    """Run as a job thread would, whatever the caller's context: no request, no app
    context, and the default unit-of-work mode (SQLite: BEGIN IMMEDIATE, see backend.db)."""
    return contextvars.Context().run(fn, *args)


def _execute(app: Flask, outbox_id: int, expected_actor: str | None) -> str:
    with app.app_context():
        session = db.session
        try:
            return _run_locked(session, outbox_id, expected_actor)
        except BaseException:
            # The row stays as it was ('dispatched'); the relay re-sends it once stale.
            session.rollback()
            log.exception("job.execution_aborted", extra={"job_id": outbox_id})
            raise


def _run_locked(session, outbox_id: int, expected_actor: str | None) -> str:
    # FOR UPDATE on PostgreSQL; on SQLite the unit of work began with BEGIN IMMEDIATE, which
    # already serialises writers. A second worker with the same message waits here, then
    # finds the row done.
    row = session.scalar(sa.select(OutboxJob).where(OutboxJob.id == outbox_id).with_for_update())
    now = utcnow()
    if row is None or not _runnable(row, now):
        session.rollback()
        return SKIPPED
    if expected_actor is not None and row.actor != expected_actor:
        # A message from another deployment sharing the broker; the row is not ours to run.
        log.error(
            "job.actor_mismatch",
            extra={"job_id": row.id, "actor": row.actor, "message_actor": expected_actor},
        )
        session.rollback()
        return SKIPPED
    spec = registry.get(row.actor)
    if spec is None:
        _finish(row, FAILED, now, error=f"UnknownJob: no job {row.actor!r} is registered in this process")
        session.commit()
        return FAILED

    if spec.phased:
        return _run_phased(session, spec, row)
    payload = copy.deepcopy(row.payload)
    outcome, _ = _attempt(session, spec, row, lambda: spec.fn(payload))
    if outcome is None:
        outcome = _done(row)
    session.commit()
    return outcome


def _run_phased(session, spec: registry.JobSpec, row: OutboxJob) -> str:
    payload = row.payload
    outbox_id = row.id
    outcome, plan = _attempt(session, spec, row, lambda: spec.fn(copy.deepcopy(payload)))
    if outcome is None and plan is None:
        outcome = _done(row)  # nothing to send
    if outcome is not None:
        session.commit()
        return outcome
    claim = utcnow()
    row.state = DISPATCHED
    row.dispatched_at = claim
    session.commit()  # the write lock is released before the call

    try:
        result, error = spec.call_out(plan), None
    except Exception as exc:
        result, error = None, exc
    # A BaseException (worker killed) leaves the claimed row 'dispatched' for a redispatch.

    row = session.scalar(sa.select(OutboxJob).where(OutboxJob.id == outbox_id).with_for_update())
    if row is None or row.state != DISPATCHED or row.dispatched_at != claim:
        log.warning(
            "job.outcome_superseded",
            extra={"job_id": outbox_id, "actor": spec.name, "state": row.state if row else None},
        )
        session.rollback()
        return SKIPPED
    if error is not None:
        outcome = _on_error(spec, row, error)
    elif spec.record is not None:
        outcome, _ = _attempt(session, spec, row, lambda: spec.record(copy.deepcopy(payload), plan, result))
    if outcome is None:
        outcome = _done(row)
    session.commit()
    return outcome


def _attempt(session, spec: registry.JobSpec, row: OutboxJob, work) -> tuple[str | None, object]:
    """Run `work` in a savepoint; on failure apply the row's retry policy and return the
    outcome, else (None, what work returned)."""
    try:
        return None, _run_in_savepoint(session, row, work)
    except Exception as exc:
        return _on_error(spec, row, exc), None


def _on_error(spec: registry.JobSpec, row: OutboxJob, exc: Exception) -> str:
    extra = {"job_id": row.id, "actor": row.actor}
    if isinstance(exc, Retry):
        row.state = PENDING
        row.run_after = utcnow() + timedelta(seconds=exc.delay_seconds)
        row.dispatched_at = None
        if exc.reason:
            row.last_error = f"Retry: {exc.reason}"
        log.info("job.retry_requested", extra={**extra, "delay_seconds": exc.delay_seconds})
        return RESCHEDULED
    outcome = _record_failure(spec, row, exc)
    log.warning("job.failed", extra={**extra, "attempts": row.attempts, "outcome": outcome}, exc_info=exc)
    return outcome


def _done(row: OutboxJob) -> str:
    _finish(row, DONE, utcnow())
    log.info("job.done", extra={"job_id": row.id, "actor": row.actor})
    return RAN


def _run_in_savepoint(session, row: OutboxJob, work):
    """The job's own work, undone alone on failure while the row stays locked."""
    savepoint = session.begin_nested()
    # While set, committing this savepoint (the job calling commit()) is refused: it would
    # release the work towards a commit without the row's 'done' mark.
    session.info[RUNNING_JOB] = (row.id, savepoint)
    try:
        result = work()
    except BaseException:
        session.info.pop(RUNNING_JOB, None)
        if savepoint.is_active:
            savepoint.rollback()
        raise
    session.info.pop(RUNNING_JOB, None)
    savepoint.commit()
    return result


def _runnable(row: OutboxJob, now) -> bool:
    if row.state == DISPATCHED:
        return True
    # A pending row that is due may be run directly (drain, or a message that outran the
    # relay's commit); one waiting for its backoff may not.
    return row.state == PENDING and row.run_after <= now


def _record_failure(spec: registry.JobSpec, row: OutboxJob, exc: Exception) -> str:
    now = utcnow()
    row.attempts = (row.attempts or 0) + 1
    error = _describe(exc)
    if spec.max_retries == 0:
        _finish(row, FAILED, now, error=error)
        return FAILED
    if row.attempts > spec.max_retries:
        _finish(row, DEAD, now, error=error)
        return DEAD
    row.state = PENDING
    row.run_after = now + timedelta(seconds=spec.backoff_seconds(row.attempts))
    row.dispatched_at = None
    row.last_error = error
    return RESCHEDULED


def _finish(row: OutboxJob, state: str, now, *, error: str | None = None) -> None:
    row.state = state
    row.finished_at = now
    if error is not None:
        row.last_error = error


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))
    return text[:MAX_ERROR_CHARS]


def release_callers_session(*, strict: bool = True) -> None:
    """Jobs run in their own sessions. A caller's open read transaction is ended so it
    neither blocks them (SQLite) nor hides their results. Unsaved writes are refused
    (strict) or left alone."""
    if not has_app_context() or not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted or session.info.get(WROTE):
        if not strict:
            return
        raise RuntimeError(
            "this session has uncommitted writes; commit or roll back before running jobs "
            "(each job is its own unit of work and would wait for, or never see, these writes)"
        )
    session.rollback()
