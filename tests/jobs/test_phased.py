"""Jobs that call out run in phases: no transaction (no SQLite write lock, no row lock) during
the call, the outcome recorded once even when a duplicate ran meanwhile, a crash between the
call and the record leads to a retry."""

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend import jobs
from backend.db import utcnow
from backend.extensions import db
from backend.jobs import runner
from backend.jobs.models import OutboxJob
from tests.jobs.conftest import effects, row_state

pytestmark = pytest.mark.usefixtures("stub_broker")


class Killed(BaseException):
    """The worker dies (SIGKILL, OOM) between the call and the record."""


class Phases:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls: list[dict] = []
        self.records: list[tuple] = []
        self.in_transaction: list[bool] = []
        self.gates: dict[int, threading.Event] = {}  # call number -> released when set
        self.entered = threading.Event()
        self.failures: list[BaseException] = []  # raised by the next calls, in turn

    def call(self, plan: dict) -> str:
        with self.lock:
            number = len(self.calls)
            self.calls.append(plan)
            self.in_transaction.append(db.session().in_transaction())
            failure = self.failures.pop(0) if self.failures else None
        self.entered.set()
        gate = self.gates.get(number)
        if gate is not None:
            assert gate.wait(20)
        if failure is not None:
            raise failure
        return f"sent #{number}"

    def record(self, payload: dict, plan: dict, result: str) -> None:
        with self.lock:
            self.records.append((payload["key"], result))
        db.session.execute(effects.insert().values(key=f"{payload['key']}:{result}"))


PHASES = Phases()


@jobs.job(
    "test_jobs.prepare", max_retries=1, min_backoff_seconds=10, call_out=PHASES.call, record=PHASES.record
)
def prepare(payload: dict) -> dict | None:
    if payload.get("nothing"):
        return None
    db.session.execute(effects.insert().values(key=f"{payload['key']}:prepared"))
    return {"to": payload["key"]}


@pytest.fixture()
def phases():
    fresh = Phases()
    for name in vars(fresh):
        setattr(PHASES, name, getattr(fresh, name))
    yield PHASES


def _enqueue(session, key: str, **payload) -> int:
    job_id = jobs.enqueue(session=session, actor="test_jobs.prepare", payload={"key": key, **payload}).id
    session.commit()
    return job_id


def _effects(session) -> list[str]:
    session.rollback()
    keys = sorted(session.scalars(sa.select(effects.c.key)))
    session.rollback()
    return keys


def _in_thread(app, job_id: int) -> tuple[threading.Thread, list]:
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(runner.execute(app, job_id)), daemon=True)
    thread.start()
    return thread, outcome


def test_the_call_runs_with_no_transaction_and_others_write_meanwhile(app, session, effect_table, phases):
    job_id = _enqueue(session, "a")
    phases.gates[0] = threading.Event()
    thread, outcome = _in_thread(app, job_id)
    assert phases.entered.wait(10)

    # The job's row and the database are free while the receiver is slow: another unit of
    # work writes and commits (SQLite: BEGIN IMMEDIATE, busy_timeout would make it wait), and
    # locks the job's own row without waiting (PostgreSQL: NOWAIT raises if it is held).
    started = time.monotonic()
    session.execute(effects.insert().values(key="web request"))
    locked = session.scalar(sa.select(OutboxJob).filter_by(id=job_id).with_for_update(nowait=True))
    assert locked.state == "dispatched"
    session.commit()
    assert time.monotonic() - started < 3

    phases.gates[0].set()
    thread.join(10)
    assert outcome == ["done"] and phases.in_transaction == [False]
    assert phases.records == [("a", "sent #0")]
    assert _effects(session) == ["a:prepared", "a:sent #0", "web request"]
    assert row_state(session, job_id).state == "done"


def test_a_duplicate_that_ran_during_the_call_is_the_only_one_to_record(app, session, effect_table, phases):
    job_id = _enqueue(session, "b")
    phases.gates[0] = threading.Event()
    first, first_outcome = _in_thread(app, job_id)
    assert phases.entered.wait(10)

    # A redispatched message for the same row runs while the first call hangs.
    second, second_outcome = _in_thread(app, job_id)
    second.join(10)
    assert second_outcome == ["done"]

    phases.gates[0].set()
    first.join(10)
    assert first_outcome == ["skipped"]
    # Called twice (at-least-once), recorded once: by the run that still held the claim.
    assert len(phases.calls) == 2 and phases.records == [("b", "sent #1")]
    assert _effects(session) == ["b:prepared", "b:prepared", "b:sent #1"]
    assert row_state(session, job_id).state == "done"


def test_a_crash_between_call_and_record_is_retried_not_lost(app, session, effect_table, phases):
    job_id = _enqueue(session, "c")
    phases.failures = [Killed()]

    with pytest.raises(Killed):
        jobs.run_job_now(job_id)
    row = row_state(session, job_id)
    assert (row.state, row.attempts) == ("dispatched", 0) and phases.records == []

    # The relay re-sends rows dispatched too long ago; the message runs the job again.
    session.execute(
        sa.update(OutboxJob).filter_by(id=job_id).values(dispatched_at=utcnow() - timedelta(hours=1))
    )
    session.commit()
    assert jobs.relay_pending() == 1
    assert jobs.drain() == 1

    assert len(phases.calls) == 2 and phases.records == [("c", "sent #1")]
    assert row_state(session, job_id).state == "done"


def test_a_failed_call_counts_as_a_failure_with_backoff_then_dead(app, session, effect_table, phases):
    job_id = _enqueue(session, "d")
    phases.failures = [OSError("connection refused"), OSError("connection refused")]

    assert jobs.run_job_now(job_id) == "retry"
    row = row_state(session, job_id)
    assert (row.state, row.attempts, row.dispatched_at) == ("pending", 1, None)
    assert "OSError: connection refused" in row.last_error and row.run_after > utcnow()

    session.execute(sa.update(OutboxJob).filter_by(id=job_id).values(run_after=utcnow()))
    session.commit()
    assert jobs.run_job_now(job_id) == "dead"
    assert row_state(session, job_id).state == "dead" and phases.records == []
    # What the prepare phase wrote stays: it committed before each call.
    assert _effects(session) == ["d:prepared", "d:prepared"]


def test_nothing_to_send_finishes_in_one_transaction(app, session, effect_table, phases):
    job_id = _enqueue(session, "e", nothing=True)
    assert jobs.run_job_now(job_id) == "done"
    assert phases.calls == [] and row_state(session, job_id).state == "done"


def test_record_needs_call_out():
    with pytest.raises(ValueError, match="call_out"):
        jobs.job("test_jobs.bad_phases", record=lambda payload, plan, result: None)
