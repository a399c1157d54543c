"""The outbox contract: a job row commits with the change that causes it, runs once,
retries with backoff, and survives crashes of the relay and losses of the broker."""

import threading
from datetime import UTC, datetime, timedelta

import dramatiq
import pytest
import sqlalchemy as sa
import time_machine
from dramatiq.brokers.stub import StubBroker

from backend import jobs
from backend.extensions import db
from backend.jobs import broker as jobs_broker
from backend.jobs.embedded import stop_worker
from backend.jobs.models import OutboxJob
from tests.jobs.conftest import row_state, wait_until

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("stub_broker")


def _enqueue(session, key: str, *, actor: str = "test_jobs.record", commit: bool = True, **payload):
    job_id = jobs.enqueue(session=session, actor=actor, payload={"key": key, **payload}).id
    if commit:
        session.commit()
    return job_id


def _count(session, **filters) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(OutboxJob).filter_by(**filters))


# --- enqueue --------------------------------------------------------------------------


def test_enqueue_writes_the_row_in_the_callers_transaction(session):
    row = jobs.enqueue(session=session, actor="test_jobs.record", payload={"key": "a"})
    assert row.id is not None and row.state == "pending"  # flushed: the caller may use the id
    session.rollback()
    assert _count(session) == 0  # the change was rolled back, so was its job

    row = jobs.enqueue(session=session, actor="test_jobs.record", payload={"key": "b"}, delay_seconds=30)
    session.commit()
    stored = row_state(session, row.id)
    assert (stored.actor, stored.payload, stored.state, stored.attempts) == (
        "test_jobs.record",
        {"key": "b"},
        "pending",
        0,
    )
    assert stored.run_after >= stored.created_at + timedelta(seconds=30)


def test_enqueue_refuses_unknown_jobs(session):
    with pytest.raises(ValueError, match="unknown job 'test_jobs.nope'"):
        jobs.enqueue(session=session, actor="test_jobs.nope", payload={})


def test_idempotency_key_writes_one_row(session):
    first = jobs.enqueue(
        session=session, actor="test_jobs.record", payload={"key": "a"}, idempotency_key="timer:1:x"
    )
    assert first is not None and first.id is not None
    # Same transaction, then a later one: nothing more is written.
    assert (
        jobs.enqueue(
            session=session, actor="test_jobs.record", payload={"key": "b"}, idempotency_key="timer:1:x"
        )
        is None
    )
    session.commit()
    assert (
        jobs.enqueue(
            session=session, actor="test_jobs.record", payload={"key": "c"}, idempotency_key="timer:1:x"
        )
        is None
    )
    other = jobs.enqueue(
        session=session, actor="test_jobs.record", payload={"key": "d"}, idempotency_key="timer:2:x"
    )
    session.commit()
    assert _count(session) == 2
    assert row_state(session, first.id).payload == {"key": "a"}
    assert row_state(session, other.id).idempotency_key == "timer:2:x"


def test_committing_enqueued_jobs_nudges_the_relay(session, monkeypatch):
    nudges = []
    monkeypatch.setattr("backend.jobs.relay.nudge", lambda: nudges.append(1))
    _enqueue(session, "a", commit=False)
    session.rollback()
    session.commit()
    assert nudges == []  # rolled back: nothing to relay
    _enqueue(session, "b")
    assert nudges == [1]
    session.commit()
    assert nudges == [1]  # a later commit without jobs does not nudge


def test_the_nudge_comes_once_the_jobs_are_visible(session, calls, monkeypatch):
    visible_at_nudge = []

    def nudge():
        with db.engine.connect() as other:  # what a relay in another thread would see
            visible_at_nudge.append(other.scalar(sa.select(sa.func.count()).select_from(OutboxJob)))

    monkeypatch.setattr("backend.jobs.relay.nudge", nudge)
    job_id = _enqueue(session, "a", follow_up="b")
    assert jobs.run_job_now(job_id) == "done"  # its follow-up is written inside a savepoint
    assert visible_at_nudge == [1, 2]


# --- relay and run --------------------------------------------------------------------


def test_relay_sends_due_rows_and_the_run_marks_them_done(session, calls, stub_broker):
    job_id = _enqueue(session, "a")
    later = _enqueue(session, "later", commit=False)
    session.execute(
        sa.update(OutboxJob).where(OutboxJob.id == later).values(run_after=datetime(2999, 1, 1, tzinfo=UTC))
    )
    session.commit()

    assert jobs.relay_pending() == 1
    row = row_state(session, job_id)
    assert row.state == "dispatched" and row.dispatched_at is not None
    message = dramatiq.Message.decode(stub_broker.queues["bpm"].get_nowait())
    assert (message.actor_name, message.args) == ("test_jobs.record", (job_id,))
    assert jobs.relay_pending() == 0  # sent once

    assert jobs.run_job_now(job_id) == "done"
    row = row_state(session, job_id)
    assert row.state == "done" and row.finished_at is not None and row.attempts == 0
    assert calls.keys() == ["a"]
    assert row_state(session, later).state == "pending"


def test_the_same_row_run_twice_does_the_work_once(session, calls):
    job_id = _enqueue(session, "a")
    jobs.relay_pending()
    assert jobs.run_job_now(job_id) == "done"
    assert jobs.run_job_now(job_id) == "skipped"  # a duplicate delivery
    assert calls.keys() == ["a"]


def test_two_workers_with_the_same_message_run_it_once(session, calls):
    job_id = _enqueue(session, "a", sleep=0.3)
    jobs.relay_pending()
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(jobs.run_job_now(job_id))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["done", "skipped"]
    assert calls.keys() == ["a"]


def test_work_and_done_mark_commit_together(session, calls, effect_table):
    ok = _enqueue(session, "ok", effect=True, follow_up="next")
    bad = _enqueue(session, "bad", effect=True, follow_up="never")
    calls.plan["bad"] = [RuntimeError("boom after writing")]

    assert jobs.run_job_now(ok) == "done"
    assert jobs.run_job_now(bad) == "retry"

    assert session.scalars(sa.select(effect_table.c.key)).all() == ["ok"]
    followed = session.scalars(sa.select(OutboxJob.payload).where(OutboxJob.id > bad)).all()
    assert followed == [{"key": "next"}]  # the failed job's follow-up was rolled back with it
    row = row_state(session, bad)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("RuntimeError: boom after writing")


def test_a_job_that_commits_is_stopped_before_its_work_escapes(session, calls, effect_table):
    job_id = _enqueue(session, "a", effect=True, commit_itself=True)
    assert jobs.run_job_now(job_id) == "retry"
    assert session.scalars(sa.select(effect_table.c.key)).all() == []
    assert "called commit(); jobs never commit" in row_state(session, job_id).last_error

    # Savepoints of the job's own are fine.
    job_id = _enqueue(session, "b", effect=True, own_savepoint=True)
    assert jobs.run_job_now(job_id) == "done"
    assert sorted(session.scalars(sa.select(effect_table.c.key))) == ["b", "b:savepoint"]


def test_a_database_error_in_a_job_is_a_failure_like_any_other(session, calls):
    job_id = _enqueue(session, "a", bad_sql=True)
    assert jobs.run_job_now(job_id) == "retry"  # the savepoint rollback keeps the transaction usable
    row = row_state(session, job_id)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "test_jobs_no_such_table" in row.last_error


def test_job_names_are_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        jobs.job("test_jobs.record")(lambda payload: None)
    with pytest.raises(ValueError, match="dotted identifiers"):
        jobs.job("not a name")


# --- failures, backoff, Retry ---------------------------------------------------------


def test_failing_job_backs_off_exponentially_then_goes_dead(session, calls):
    calls.plan["a"] = [RuntimeError("budget system unreachable")] * 5
    with time_machine.travel(T0, tick=False) as clock:
        job_id = _enqueue(session, "a")  # max_retries=2, min_backoff 10 s
        assert jobs.drain() == 1
        row = row_state(session, job_id)
        assert (row.state, row.attempts, row.run_after) == ("pending", 1, T0 + timedelta(seconds=10))
        assert "budget system unreachable" in row.last_error

        assert jobs.drain() == 0  # backing off: not due
        clock.shift(timedelta(seconds=10))
        assert jobs.drain() == 1
        row = row_state(session, job_id)
        assert (row.state, row.attempts, row.run_after) == ("pending", 2, T0 + timedelta(seconds=30))

        clock.shift(timedelta(seconds=19))
        assert jobs.drain() == 0
        clock.shift(timedelta(seconds=1))
        assert jobs.drain() == 1
        row = row_state(session, job_id)
        assert (row.state, row.attempts, row.finished_at) == ("dead", 3, T0 + timedelta(seconds=30))

        clock.shift(timedelta(days=1))
        assert jobs.drain() == 0
    assert calls.keys() == ["a"] * 3


def test_job_with_its_own_policy_fails_at_once(session, calls):
    calls.plan["a"] = [ValueError("bad input")]
    job_id = _enqueue(session, "a", actor="test_jobs.own_policy")
    assert jobs.drain() == 1
    row = row_state(session, job_id)
    assert (row.state, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("ValueError: bad input")
    assert jobs.drain() == 0


def test_retry_runs_the_job_again_later_without_counting_a_failure(session, calls, effect_table):
    calls.plan["a"] = [jobs.Retry(delay_seconds=60, reason="budget system busy")]
    with time_machine.travel(T0, tick=False) as clock:
        job_id = _enqueue(session, "a", actor="test_jobs.own_policy", effect=True)
        assert jobs.drain() == 1
        row = row_state(session, job_id)
        assert (row.state, row.attempts, row.run_after) == ("pending", 0, T0 + timedelta(seconds=60))
        assert row.last_error == "Retry: budget system busy"
        assert session.scalars(sa.select(effect_table.c.key)).all() == []  # the first try was undone

        clock.shift(timedelta(seconds=59))
        assert jobs.drain() == 0
        clock.shift(timedelta(seconds=1))
        assert jobs.drain() == 1
    assert row_state(session, job_id).state == "done"
    assert session.scalars(sa.select(effect_table.c.key)).all() == ["a"]
    assert calls.keys() == ["a", "a"]


def test_redeliver_gives_a_dead_job_a_new_budget(session, calls):
    calls.plan["a"] = [RuntimeError("down")] * 3
    with time_machine.travel(T0, tick=False) as clock:
        job_id = _enqueue(session, "a")
        for _ in range(3):
            jobs.drain()
            clock.shift(timedelta(minutes=5))
        assert row_state(session, job_id).state == "dead"

        with pytest.raises(jobs.NotRedeliverable):
            jobs.redeliver(session=session, job_id=_enqueue(session, "fresh"))
        session.rollback()

        row = jobs.redeliver(session=session, job_id=job_id)
        session.commit()
        assert (row.state, row.attempts) == ("pending", 0)
        jobs.drain()
    row = row_state(session, job_id)
    assert row.state == "done" and row.last_error.startswith("RuntimeError: down")  # history kept


# --- crashes and lost messages --------------------------------------------------------


def test_crash_between_commit_and_relay_runs_the_job_once_after_restart(session, calls):
    job_id = _enqueue(session, "a")  # committed with its state change; the process dies here

    restarted = StubBroker(middleware=[])  # a new process: new broker, new relay, real worker
    with jobs_broker.using_broker(restarted, backend=jobs_broker.EMBEDDED):
        worker = dramatiq.Worker(restarted, worker_threads=2)
        worker.start()
        try:
            assert jobs.relay_pending() == 1
            wait_until(lambda: row_state(session, job_id).state == "done")
            assert jobs.relay_pending() == 0
        finally:
            stop_worker(worker, timeout=5)
    assert calls.keys() == ["a"]


def test_relay_crash_after_sending_delivers_twice_but_runs_once(session, calls):
    job_id = _enqueue(session, "a")
    # The relay sent the message, then died before marking the row: it is still pending.
    jobs_broker.send(actor="test_jobs.record", outbox_id=job_id)
    assert row_state(session, job_id).state == "pending"
    assert jobs.relay_pending() == 1  # the next relay sends it again

    broker = jobs_broker.current_broker()
    assert broker.queues["bpm"].qsize() == 2
    worker = dramatiq.Worker(broker, worker_threads=2)
    worker.start()
    try:
        broker.join("bpm")
        worker.join()
    finally:
        stop_worker(worker, timeout=5)
    assert row_state(session, job_id).state == "done"
    assert calls.keys() == ["a"]


def test_stale_dispatched_row_is_sent_again(session, calls, app, stub_broker, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_REDISPATCH_AFTER_SECONDS", 600)
    with time_machine.travel(T0, tick=False) as clock:
        job_id = _enqueue(session, "a")
        assert jobs.relay_pending() == 1
        stub_broker.flush_all()  # the broker lost the message (or its worker was killed)

        clock.shift(timedelta(minutes=9))
        assert jobs.relay_pending() == 0  # may still be on its way
        clock.shift(timedelta(minutes=1))
        assert jobs.relay_pending() == 1
        row = row_state(session, job_id)
        assert (row.state, row.dispatched_at) == ("dispatched", T0 + timedelta(minutes=10))
        assert stub_broker.queues["bpm"].qsize() == 1
        assert jobs.run_job_now(job_id) == "done"
        clock.shift(timedelta(hours=1))
        assert jobs.relay_pending() == 0
    assert calls.keys() == ["a"]


# --- drain ----------------------------------------------------------------------------


def test_drain_runs_follow_up_jobs_in_order(session, calls):
    _enqueue(session, "first", follow_up="second")
    _enqueue(session, "third")
    assert jobs.drain() == 3
    assert calls.keys() == ["first", "third", "second"]
    assert _count(session, state="done") == 3


def test_drain_runs_rows_already_handed_to_an_unconsumed_broker(session, calls):
    job_id = _enqueue(session, "a")
    jobs.relay_pending()
    assert jobs.drain() == 1
    assert row_state(session, job_id).state == "done"


def test_drain_ends_a_read_but_refuses_unsaved_writes(session, calls):
    job_id = _enqueue(session, "a")
    row = session.get(OutboxJob, job_id)
    assert row.state == "pending"  # the session now holds a read transaction (a write lock on SQLite)
    assert jobs.drain() == 1
    assert row.state == "done"  # the caller sees the job's result

    _enqueue(session, "b", commit=False)
    with pytest.raises(RuntimeError, match="uncommitted writes"):
        jobs.drain()
    session.rollback()


def test_drain_stops_a_job_that_keeps_itself_due(session, calls):
    calls.plan["loop"] = [jobs.Retry(delay_seconds=0)] * 10
    _enqueue(session, "loop", actor="test_jobs.own_policy")
    with pytest.raises(RuntimeError, match="still due after 3 rounds"):
        jobs.drain(max_rounds=3)


# --- embedded runtime, health, CLI ----------------------------------------------------


def test_embedded_runtime_runs_a_committed_job_promptly(session, calls, app, monkeypatch):
    # A long tick: only the commit's nudge can make the relay send it in time.
    monkeypatch.setitem(app.config, "JOB_RELAY_INTERVAL_SECONDS", 60)
    jobs.start_embedded(app)
    jobs.start_embedded(app)  # idempotent
    try:
        assert jobs.broker_status() == {"ok": True, "backend": "embedded", "workers_running": True}
        job_id = _enqueue(session, "a")
        wait_until(lambda: row_state(session, job_id).state == "done", timeout=10)
    finally:
        jobs.stop_embedded()
    assert jobs.broker_status()["workers_running"] is False
    assert calls.keys() == ["a"]


def test_cli_list_redeliver_and_relay(session, calls, app):
    calls.plan["a"] = [ValueError("bad input")]
    job_id = _enqueue(session, "a", actor="test_jobs.own_policy")
    jobs.drain()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["jobs", "list", "--state", "failed"])
    assert result.exit_code == 0, result.output
    assert "test_jobs.own_policy" in result.output and "ValueError: bad input" in result.output

    result = runner.invoke(args=["jobs", "redeliver", str(job_id)])
    assert result.exit_code == 0, result.output
    assert row_state(session, job_id).state == "pending"
    result = runner.invoke(args=["jobs", "redeliver", str(job_id)])
    assert result.exit_code == 1 and "only dead or failed" in result.output

    result = runner.invoke(args=["jobs", "relay"])
    assert result.exit_code == 0 and "relayed: 1" in result.output
    assert row_state(session, job_id).state == "dispatched"


def test_worker_command_needs_redis(app, tmp_path):
    from backend import create_app
    from backend.jobs import broker

    embedded = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.sqlite3'}", "REDIS_URL": ""}
    )
    try:
        result = embedded.test_cli_runner().invoke(args=["worker"])
    finally:
        broker.configure(app)  # the broker is process-wide: give it back to the suite's app
    assert result.exit_code == 1 and "REDIS_URL is not set" in result.output
