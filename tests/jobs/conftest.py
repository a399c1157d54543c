"""Test-only jobs and helpers. Job names start with "test_jobs." so they never collide
with the jobs of the platform."""

import threading
import time

import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker

from backend import jobs
from backend.extensions import db
from backend.jobs import broker as jobs_broker
from backend.jobs.models import OutboxJob

# A table of the jobs' own work, outside db.metadata so it never reaches migrations.
effects_metadata = sa.MetaData()
effects = sa.Table(
    "test_jobs_effect",
    effects_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(80), nullable=False),
)


class Calls:
    """What the test jobs were asked to do, thread-safe (worker threads call them)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.payloads: list[dict] = []
        self.plan: dict[str, list] = {}  # key -> what each next call does: "ok", an exception, ...

    def record(self, payload: dict):
        with self._lock:
            self.payloads.append(payload)
            steps = self.plan.get(payload.get("key", ""), [])
            return steps.pop(0) if steps else "ok"

    def keys(self) -> list[str]:
        with self._lock:
            return [p.get("key") for p in self.payloads]

    def reset(self):
        with self._lock:
            self.payloads.clear()
            self.plan.clear()


CALLS = Calls()


def _act(payload: dict) -> None:
    step = CALLS.record(payload)
    if payload.get("sleep"):
        time.sleep(payload["sleep"])
    if payload.get("effect"):
        db.session.execute(effects.insert().values(key=payload["key"]))
    if payload.get("bad_sql"):
        db.session.execute(
            sa.text("SELECT * FROM test_jobs_no_such_table")
        )  # aborts a PostgreSQL transaction
    if payload.get("own_savepoint"):
        with db.session.begin_nested():
            db.session.execute(effects.insert().values(key=payload["key"] + ":savepoint"))
    if payload.get("follow_up"):
        jobs.enqueue(session=db.session, actor="test_jobs.record", payload={"key": payload["follow_up"]})
    if payload.get("commit_itself"):
        db.session.commit()  # against the rules: the runner commits
    if isinstance(step, BaseException):
        raise step


@jobs.job("test_jobs.record", max_retries=2, min_backoff_seconds=10)
def record(payload: dict) -> None:
    _act(payload)


@jobs.job("test_jobs.own_policy", max_retries=0)
def own_policy(payload: dict) -> None:
    _act(payload)


@pytest.fixture()
def calls():
    CALLS.reset()
    yield CALLS
    CALLS.reset()


@pytest.fixture()
def effect_table(session):
    effects_metadata.create_all(db.engine)
    yield effects
    session.rollback()
    session.execute(effects.delete())
    session.commit()


@pytest.fixture()
def stub_broker():
    """A private in-memory broker: relayed messages are inspectable and go nowhere else."""
    stub = StubBroker(middleware=[])
    with jobs_broker.using_broker(stub, backend=jobs_broker.EMBEDDED):
        yield stub


def row_state(session, job_id: int) -> OutboxJob:
    """Read a row afresh and end the read, so worker threads are not blocked (SQLite)."""
    session.rollback()
    row = session.get(OutboxJob, job_id)
    session.expunge(row)
    session.rollback()
    return row


def wait_until(predicate, *, timeout: float = 20, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
