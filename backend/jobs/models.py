"""The transactional outbox: one row per piece of background work.

A row is written in the same transaction as the state change that causes it, so the
work is never lost and never done for a change that was rolled back. The row, not the
broker message, is the truth: a message only carries the row id.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db

PENDING = "pending"  # waiting for run_after, then for the relay
DISPATCHED = "dispatched"  # handed to the broker; a worker will run it
DONE = "done"  # the work committed together with this mark
FAILED = "failed"  # failed on a job that handles its own failures (max_retries=0)
DEAD = "dead"  # failed max_retries + 1 times; an operator may redeliver it
STATES = (PENDING, DISPATCHED, DONE, FAILED, DEAD)
FINISHED_STATES = (DONE, FAILED, DEAD)


class OutboxJob(db.Model):
    __tablename__ = "outbox_job"
    __table_args__ = (
        # The relay's query: due pending rows, and dispatched rows gone stale.
        sa.Index("ix_outbox_job_state_run_after", "state", "run_after"),
        sa.CheckConstraint(
            sa.text("state IN ('pending', 'dispatched', 'done', 'failed', 'dead')"), name="state"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The registered job name, e.g. "workflow.fire_timers".
    actor: Mapped[str] = mapped_column(sa.String(120))
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    state: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Failed executions so far (a job's own Retry request does not count).
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<OutboxJob {self.id} {self.actor} {self.state} attempts={self.attempts}>"
