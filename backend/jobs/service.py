"""Writing outbox rows in the caller's unit of work, and the operator's actions on them."""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from backend.db import utcnow
from backend.jobs import registry
from backend.jobs.models import DEAD, DONE, FAILED, PENDING, STATES, OutboxJob

# Keys in Session.info, cleared when the transaction ends.
ENQUEUED = "jobs.enqueued"  # this transaction wrote outbox rows: nudge the relay on commit
WROTE = "jobs.flushed"  # this transaction flushed writes (drain refuses to leave them behind)
RUNNING_JOB = "jobs.running"  # a job function is running in this session: only the runner commits


class NotRedeliverable(ValueError):
    """Only dead or failed jobs are redelivered; the others will still run by themselves."""

    def __init__(self, job_id: int, state: str | None):
        super().__init__(f"job {job_id} is {state or 'missing'}; only dead or failed jobs can be redelivered")
        self.job_id = job_id
        self.state = state


def enqueue(
    *,
    session,
    actor: str,
    payload: dict,
    delay_seconds: float = 0,
    idempotency_key: str | None = None,
) -> OutboxJob | None:
    """Write an outbox row in the caller's transaction (flushed, not committed).

    Returns None, writing nothing, when a row with this idempotency key already exists.
    """
    registry.require(actor)
    if delay_seconds < 0:
        raise ValueError("delay_seconds must not be negative")
    session = _plain(session)
    now = utcnow()
    values = {
        "actor": actor,
        "payload": payload,
        "idempotency_key": idempotency_key,
        "state": PENDING,
        "run_after": now + timedelta(seconds=delay_seconds),
        "attempts": 0,
        "created_at": now,
    }
    if idempotency_key is None:
        row = OutboxJob(**values)
        session.add(row)
        session.flush()
    else:
        row = _insert_once(session, values)
    if row is not None:
        session.info[ENQUEUED] = True
    return row


def _insert_once(session: Session, values: dict) -> OutboxJob | None:
    dialect = session.get_bind(OutboxJob.__mapper__).dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(OutboxJob)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[OutboxJob.idempotency_key])
            .returning(OutboxJob)
        )
        return session.scalars(stmt).one_or_none()
    # Other databases: check, then insert under a savepoint; the unique index decides races.
    if session.scalar(sa.select(OutboxJob.id).where(OutboxJob.idempotency_key == values["idempotency_key"])):
        return None
    row = OutboxJob(**values)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def redeliver(*, session, job_id: int) -> OutboxJob:
    """Queue a dead or failed job again with a fresh retry budget (its last error is kept)."""
    session = _plain(session)
    row = session.scalar(sa.select(OutboxJob).where(OutboxJob.id == job_id).with_for_update())
    if row is None or row.state not in (DEAD, FAILED):
        raise NotRedeliverable(job_id, row.state if row else None)
    row.state = PENDING
    row.run_after = utcnow()
    row.attempts = 0
    row.dispatched_at = None
    row.finished_at = None
    session.flush()
    session.info[ENQUEUED] = True
    return row


def list_jobs(*, session, state: str | None = None, limit: int = 50) -> list[OutboxJob]:
    """Newest first, optionally of one state."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r}; one of {', '.join(STATES)}")
    stmt = sa.select(OutboxJob).order_by(OutboxJob.id.desc()).limit(limit)
    if state is not None:
        stmt = stmt.where(OutboxJob.state == state)
    return list(_plain(session).scalars(stmt))


def prune_done(*, session, older_than: timedelta, now=None, batch: int = 1000) -> int:
    """Delete one batch of jobs done longer ago than `older_than`; returns how many.

    Done rows are history nobody acts on; left alone they grow with every start and every
    delivery. Failed and dead rows stay: an operator may still redeliver them. A deleted
    job's idempotency key is free again, which is safe: keys guard against duplicates
    enqueued within seconds (timers, retries), never days apart."""
    cutoff = (now or utcnow()) - older_than
    ids = (
        sa.select(OutboxJob.id)
        .where(OutboxJob.state == DONE, OutboxJob.finished_at < cutoff)
        .order_by(OutboxJob.id)
        .limit(batch)
        .scalar_subquery()
    )
    result = _plain(session).execute(sa.delete(OutboxJob).where(OutboxJob.id.in_(ids)))
    return result.rowcount or 0


def _plain(session):
    return session() if isinstance(session, scoped_session) else session


# --- session hooks: committing enqueued rows wakes the relay of this process -------------


def install_session_hooks() -> None:
    if event.contains(Session, "after_commit", _after_commit):
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_transaction_end", _after_transaction_end)


def _after_flush(session, _flush_context) -> None:
    session.info[WROTE] = True


def _before_commit(session) -> None:
    running = session.info.get(RUNNING_JOB)
    # A job may use savepoints of its own; committing the runner's savepoint (what a job's
    # commit() does first) would commit its work without the row's 'done' mark.
    if running is not None and session.get_nested_transaction() is running[1]:
        raise RuntimeError(
            f"job {running[0]} called commit(); jobs never commit, the runner commits their work"
        )


def _after_commit(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: nothing is visible to the relay yet
    session.info.pop(WROTE, None)
    if session.info.pop(ENQUEUED, None):
        from backend.jobs.relay import nudge

        nudge()


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed or rolled back
        session.info.pop(WROTE, None)
        session.info.pop(ENQUEUED, None)
