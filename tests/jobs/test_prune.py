"""Done outbox rows are pruned after their retention; failed and dead rows stay for operators."""

from datetime import timedelta

import sqlalchemy as sa

from backend.db import utcnow
from backend.jobs.models import OutboxJob
from backend.jobs.service import prune_done
from backend.workflow import scheduler


def _job(session, state: str, finished_days_ago: float | None) -> int:
    finished = utcnow() - timedelta(days=finished_days_ago) if finished_days_ago is not None else None
    row = OutboxJob(actor="test_jobs.record", payload={}, state=state, finished_at=finished)
    session.add(row)
    session.flush()
    return row.id


def test_only_done_rows_older_than_the_retention_go(session):
    old_done = [_job(session, "done", 10) for _ in range(3)]
    recent_done = _job(session, "done", 1)
    old_dead = _job(session, "dead", 30)
    old_failed = _job(session, "failed", 30)
    pending = _job(session, "pending", None)

    assert prune_done(session=session, older_than=timedelta(days=7), batch=2) == 2
    assert prune_done(session=session, older_than=timedelta(days=7), batch=2) == 1
    assert prune_done(session=session, older_than=timedelta(days=7)) == 0

    left = set(session.scalars(sa.select(OutboxJob.id)))
    assert not left & set(old_done)
    assert {recent_done, old_dead, old_failed, pending} <= left


def test_the_scheduler_prunes_at_most_every_interval(app, session, monkeypatch):
    monkeypatch.setattr(scheduler, "_last_prune", [float("-inf")])
    first = _job(session, "done", 8)
    assert scheduler._prune_outbox(app, session=session, now=1000.0) == 1
    second = _job(session, "done", 8)
    # Within the interval nothing is done; after it, the next batch goes.
    assert scheduler._prune_outbox(app, session=session, now=1000.0 + scheduler.PRUNE_EVERY_SECONDS - 1) == 0
    assert session.get(OutboxJob, second) is not None
    assert scheduler._prune_outbox(app, session=session, now=1000.0 + scheduler.PRUNE_EVERY_SECONDS) == 1
    assert session.get(OutboxJob, first) is None
