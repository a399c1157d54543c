"""Periodic signed checkpoints: each scheduler pass enqueues one `ledger.checkpoint` job per
interval (idempotency key = the interval's number, so several schedulers enqueue it once)."""

import time

import sqlalchemy as sa
from flask import current_app

from backend import jobs
from backend.extensions import db
from backend.ledger import service
from backend.ledger.models import Ledger

JOB = "ledger.checkpoint"


def schedule_checkpoints(*, session, now: float | None = None) -> bool:
    """Enqueue this interval's checkpoint job (True if this call wrote it)."""
    interval = float(current_app.config.get("LEDGER_CHECKPOINT_INTERVAL_SECONDS", 3600) or 0)
    if interval <= 0:
        return False
    bucket = int((now if now is not None else time.time()) // interval)
    row = jobs.enqueue(
        session=session, actor=JOB, payload={}, idempotency_key=f"{JOB}:{int(interval)}:{bucket}"
    )
    return row is not None


def checkpoint_all(*, session) -> list:
    """A checkpoint of every ledger that grew since its latest one."""
    made = []
    for name in session.scalars(sa.select(Ledger.name).order_by(Ledger.name)).all():
        cp = service.checkpoint(session=session, ledger=name, only_if_grown=True)
        if cp is not None:
            made.append(cp)
    return made


@jobs.job(JOB, max_retries=3)
def run_checkpoints(payload: dict) -> None:
    checkpoint_all(session=db.session)
